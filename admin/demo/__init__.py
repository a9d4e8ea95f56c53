"""`shardcron demo`: a whole shardcron on one machine, set up to show its headline features.

`setup` creates the demo's login, executor groups and jobs through the services (as an operator
would in the console), `recipes` the two recipes' groups, jobs and shift roster; `supervisor` runs
the processes — the admin (web + scheduler on the embedded SQLite file), two or more executor
processes, a producer filling the retry-task table, the recipes' executors — plus a local webhook
receiver for alarms and the `control` endpoint the console's Demo page kills the batch's executor
through, and stops them all on Ctrl-C.
"""
