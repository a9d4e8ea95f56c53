"""Scheduling: schedule math (cron, fixed rate, time zones), the durable fire store, the fire
loop, routing, triggering and the monitors that follow runs up (registry, retries, lost runs,
alarms, housekeeping)."""
