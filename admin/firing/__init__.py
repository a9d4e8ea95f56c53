"""Firing: the durable side of the scheduler — the node lease and its terms, claiming due fires,
the fire loop, and the run rows written for them (planning, bulk inserts, settling)."""
