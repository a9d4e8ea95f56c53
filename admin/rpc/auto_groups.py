"""The opt-in `auto_create_groups`: an executor's first heartbeat with an unknown app name
creates its AUTO group, as the system (audited), so it can be targeted at once.

Off by default, as in XXL-JOB: a typo in an executor's app name must not quietly become a new
group. When off, the registration is still recorded, and the admin logs once per process and app
name that no group has it.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shardcron.core.protocol import REGISTRY_GROUP_EXECUTOR, RegistryParam

from ..models import ExecutorGroup
from ..services.actor import SYSTEM_ACTOR
from ..services.errors import ServiceError
from ..services.groups import create_group

log = logging.getLogger("shardcron.admin.rpc")

#: App names already told about (a heartbeat comes every 30 s; one warning is enough).
_warned: set[str] = set()


def ensure_group(session: Session, param: RegistryParam, *, create: bool, now_ms: int) -> None:
    """Create the executor's AUTO group when `create` and no group has its app name; otherwise
    warn (once per app name) that nothing can target it yet."""
    if param.registry_group != REGISTRY_GROUP_EXECUTOR:
        return
    app_name = param.registry_key
    if session.scalar(sa.select(ExecutorGroup.id).where(ExecutorGroup.app_name == app_name)) is not None:
        return
    if not create:
        if app_name not in _warned:
            _warned.add(app_name)
            log.warning(
                "executor %s registered with app name %r, which no executor group has: create the group "
                "(or set auto_create_groups) before jobs can target it",
                param.registry_value,
                app_name,
            )
        return
    try:
        group = create_group(session, SYSTEM_ACTOR, {"app_name": app_name, "title": app_name}, now_ms=now_ms)
    except ServiceError as exc:  # an app name a group cannot have, or another node created it a moment ago
        log.info("no executor group created for app name %r: %s", app_name, exc)
        return
    log.info("created AUTO executor group %r (id %s) on the first registration of %s", app_name, group.id, param.registry_value)
