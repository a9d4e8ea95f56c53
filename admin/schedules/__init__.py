"""Schedules: pure schedule math — cron expressions and their syntax, time zones, next fire times,
and the routing strategies that pick an executor. No database, no I/O (tests/test_layers.py)."""
