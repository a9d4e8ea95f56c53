"""Who may write a script job: code that the group's executors run (docs/security.md).

A BEAN job names a handler compiled into the executors; a GLUE job carries its own source, which
an executor with `glue_enabled` (or any Java executor, for GLUE_GROOVY) runs as its own user. So
creating a script job, changing its source or type, switching a BEAN job to a script type, or
moving a script job to another group needs an ADMIN or a USER whom an admin granted "may run
scripts" for that group. Everything else about a script job stays editable with the group grant.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shardcron.core.protocol import GlueType

from ..models import Job
from .actor import Actor
from ..texts import Text, _t
from .errors import Forbidden

#: Fields whose change is a script change.
SCRIPT_FIELDS = ("glue_type", "glue_source")


def is_script_type(glue_type: Any) -> bool:
    """Every type but BEAN carries code (including types only Java executors know)."""
    return glue_type is not None and str(glue_type) != GlueType.BEAN.value


def same_source(a: str | None, b: str | None) -> bool:
    # A form sends "" where the API stores None: both mean "no script".
    return (a or "") == (b or "")


def script_touched(values: Mapping[str, Any], current: Job | None) -> bool:
    """Whether the cleaned `values` write code: a new script job (or a BEAN job given a source),
    a changed type or source, or a script job moved to another group."""
    glue_type, source = values.get("glue_type"), values.get("glue_source")
    if current is None:
        return is_script_type(glue_type) or bool(source)
    if str(glue_type) != str(current.glue_type) or not same_source(source, current.glue_source):
        return True
    return is_script_type(glue_type) and values.get("group_id") != current.group_id


def require_script_right(actor: Actor, group_id: int, *, job_id: int | None, what: Text) -> None:
    """Raise Forbidden (403) unless the actor may write scripts for the group; `what` is the
    deed refused ("create a script job")."""
    if actor.can_write_scripts(group_id):
        return
    reason = _t("only an admin, or a user an admin granted 'may run scripts' for group %(group)s, may %(what)s", group=group_id, what=what)
    raise Forbidden(
        _t("job not saved: %(reason)s", reason=reason) if job_id is None else _t("job %(id)s not saved: %(reason)s", id=job_id, reason=reason),
        object_id=job_id,
        field_errors={field: _t("you may not write scripts for this group") for field in SCRIPT_FIELDS},
    )
