"""`shardcron demo`: a whole shardcron on one machine, set up to show its headline features.

`setup` creates the demo's login, executor group and jobs through the services (as an operator
would in the console); `supervisor` runs the processes — the admin (web + scheduler on the
embedded SQLite file), two or more executor processes, a producer filling the retry-task table —
plus a local webhook receiver for alarms, and stops them all on Ctrl-C.
"""
