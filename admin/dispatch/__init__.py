"""Dispatch: each claimed fire's `/run` calls at their millisecond — the fire dispatcher, its
timer heap, the keyed pool for probes and settlements, and the answer recorder."""
