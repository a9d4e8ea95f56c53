"""Worked examples that ship with shardcron (the one-command demo imports them).

`request_callback`: an outbound request recorded as a retry task, answered by callback, late
(found by polling), or never (ends DEAD), against the fake partner in `fake_partner`.
`work_orders` (with `roster`): the period's work orders, offered with backoff until someone is on
shift. `async_tasks`: a task component with lanes, delayed tasks and an exactly-once variant.
`long_batch`: 10,000 items with progress and checkpoints, resumed after its executor dies.
See docs/recipes.md.
"""
