"""The audit trail: every change a person or a token makes, recorded in the change's transaction.

A service that changes something calls `record(session, actor, ...)` before it returns, in the
caller's session: the entry commits with the change or rolls back with it, never on its own.
Who (the actor's kind, user id and name, the API token's name), from where (the client's
address), what (an `AuditAction` on a target, with the target's group for scoping) and the
values before and after: only the changed fields of an update, whole objects for a create or
a delete. Secrets never reach it: `record` refuses a field named like one (passwords, token
values and hashes), so a new service cannot leak one by passing a whole row.

Each entry is also told to the `shardcron.admin.audit` logger, one line, for operators who ship
logs elsewhere. Reading the trail is `audit_query`; deleting old entries is housekeeping.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from ..enums import AuditAction, AuditTarget
from ..models import AuditEntry
from .actor import Actor

log = logging.getLogger("shardcron.admin.audit")

#: Field names that must never be written to the trail (a change of one is recorded by its action).
SECRET_FIELDS = frozenset({"password", "new_password", "current_password", "password_hash", "token", "token_hash", "api_token_hash", "secret"})
#: Texts longer than this (a script, a long parameter) are kept as their size and digest: the
#: script's full text is in its kept versions, and an entry stays a few hundred bytes.
MAX_TEXT_CHARS = 500
#: An id column holds a signed 64-bit number.
_ID_MAX = 2**63 - 1


class AuditSecretError(ValueError):
    """A service tried to write a secret into the audit trail (a programming error)."""


def _plain(value: Any) -> Any:
    """A JSON-able form of a field's value: enums as their strings, long texts as a digest."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, str) and len(value) > MAX_TEXT_CHARS:
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return f"<{len(value)} characters, sha256 {digest}>"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [_plain(v) for v in items]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _fields(values: Mapping[str, Any] | None) -> str | None:
    if values is None:
        return None
    leaked = SECRET_FIELDS.intersection(values)
    if leaked:
        raise AuditSecretError(f"secret field(s) {', '.join(sorted(leaked))} must not be written to the audit trail")
    return json.dumps({k: _plain(v) for k, v in values.items()}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The fields whose value differs, as (before, after) with only those keys."""
    keys = [k for k in after if _plain(before.get(k)) != _plain(after.get(k))]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def _who(actor: Actor) -> str:
    via = f" with token {actor.token_name!r}" if actor.token_name else ""
    where = f" from {actor.client_address}" if actor.client_address else ""
    user = f" (id {actor.user_id})" if actor.user_id is not None else ""
    return f"{actor.kind.value.lower()} {actor.username}{user}{via}{where}"


def record(
    session: Session,
    actor: Actor,
    action: AuditAction,
    target: AuditTarget,
    *,
    target_id: int | None,
    target_name: str = "",
    group_id: int | None = None,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    now_ms: int,
) -> AuditEntry:
    """Add one entry to `session` (flushed, not committed: it commits with the change)."""
    entry = AuditEntry(
        at_ms=now_ms,
        actor_kind=actor.kind.value,
        actor_user_id=actor.user_id,
        actor_name=actor.username[:64],
        token_name=actor.token_name[:64] if actor.token_name else None,
        client_address=actor.client_address[:64] if actor.client_address else None,
        action=AuditAction(action).value,
        target_type=AuditTarget(target).value,
        target_id=target_id if target_id is not None and 0 < target_id <= _ID_MAX else None,
        target_name=(target_name or "")[:128],
        group_id=group_id,
        before_json=_fields(before),
        after_json=_fields(after),
    )
    session.add(entry)
    session.flush()
    told = " ".join(f"{side}={text}" for side, text in (("before", entry.before_json), ("after", entry.after_json)) if text is not None)
    log.info("%s: %s %s %s (id %s) %s", _who(actor), entry.action, entry.target_type, entry.target_name, entry.target_id, told)
    return entry
