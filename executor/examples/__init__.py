"""Worked examples that ship with shardcron (the one-command demo imports them).

`request_callback`: an outbound request recorded as a retry task, answered by callback, late
(found by polling), or never (ends DEAD), against the fake partner in `fake_partner`.
"""
