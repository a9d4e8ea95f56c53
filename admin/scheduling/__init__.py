"""Scheduling: the scheduler process (runner.py), which wires the node lease, the fire loop, the
dispatcher and the monitors together and runs their loops. The pieces live in schedules/ (pure
schedule math), firing/ (claims, leases, run rows), dispatch/ (timers, sends, answers) and
transport/ (executor calls)."""
