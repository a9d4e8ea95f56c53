"""Display names of the codes the console shows (run statuses, trigger types, routes, roles).

English shows the codes themselves (what the REST API, the docs and XXL-JOB's English UI use);
other languages show the catalog's words for them (in Chinese, XXL-JOB's: 成功, 手动触发, 分片广播).
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

_LABELS: dict[str, LazyString] = {
    # Run statuses, and a job's state (the badge of the job list and form).
    "PENDING": _l("PENDING"),
    "RUNNING": _l("RUNNING"),
    "SUCCESS": _l("SUCCESS"),
    "FAILED": _l("FAILED"),
    "UNKNOWN": _l("UNKNOWN"),
    "ENABLED": _l("ENABLED"),
    "STOPPED": _l("STOPPED"),
    # A backfill's state (RUNNING as above).
    "DONE": _l("DONE"),
    "CANCELLED": _l("CANCELLED"),
    # Workflow instance and step states (RUNNING, FAILED, CANCELLED as above), edge conditions.
    "WAITING": _l("WAITING"),
    "FIRED": _l("FIRED"),
    "SUCCEEDED": _l("SUCCEEDED"),
    "SKIPPED": _l("SKIPPED"),
    "NOT_RUN": _l("NOT_RUN"),
    "TIMED_OUT": _l("TIMED_OUT"),
    "FAILURE": _l("FAILURE"),
    "ALWAYS": _l("ALWAYS"),
    # Trigger types of a run.
    "CRON": _l("CRON"),
    "MISFIRE": _l("MISFIRE"),
    "MANUAL": _l("MANUAL"),
    "API": _l("API"),
    "RETRY": _l("RETRY"),
    "PARENT": _l("PARENT"),
    "BACKFILL": _l("BACKFILL"),
    "WORKFLOW": _l("WORKFLOW"),
    # Routing strategies.
    "FIRST": _l("FIRST"),
    "LAST": _l("LAST"),
    "ROUND": _l("ROUND"),
    "RANDOM": _l("RANDOM"),
    "CONSISTENT_HASH": _l("CONSISTENT_HASH"),
    "LEAST_FREQUENTLY_USED": _l("LEAST_FREQUENTLY_USED"),
    "LEAST_RECENTLY_USED": _l("LEAST_RECENTLY_USED"),
    "FAILOVER": _l("FAILOVER"),
    "BUSYOVER": _l("BUSYOVER"),
    "SHARDING_BROADCAST": _l("SHARDING_BROADCAST"),
    # Roles.
    "ADMIN": _l("ADMIN"),
    "USER": _l("USER"),
}


def code_label(code: object) -> str:
    """The display name of `code` in the request's language (the code itself when it has none)."""
    text = str(getattr(code, "value", code))
    found = _LABELS.get(text)
    return str(found) if found is not None else text
