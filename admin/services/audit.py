"""Changes to who may do what (roles, group grants, script rights), told to the audit log.

The admin database keeps no audit table yet; script changes are kept in full as glue versions
(services.glue_versions). Changes of rights go to the `shardcron.admin.audit` logger, one line
each, naming who changed what for whom, so an operator can ship them to where logs are kept.
"""

from __future__ import annotations

import logging

from .actor import Actor

log = logging.getLogger("shardcron.admin.audit")


def audit_rights_change(actor: Actor | None, action: str, user_id: int, username: str, **details: object) -> None:
    who = "setup" if actor is None else f"{actor.username} (id {actor.user_id})" if actor.user_id is not None else actor.username
    told = " ".join(f"{key}={value}" for key, value in details.items())
    log.info("%s: %s for user %s (id %s) %s", who, action, username, user_id, told)
