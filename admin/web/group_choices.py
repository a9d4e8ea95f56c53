"""Executor groups as form choices (filters, grants, the job form's group select)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from ..services.actor import Actor
from ..services.errors import ServiceError
from ..services.group_options import list_group_options


def group_choices(session: Session, actor: Actor) -> list[tuple[int, str]]:
    """(id, "title (app_name)") of the groups the actor may see, by app name."""
    return [(option.id, f"{option.title} ({option.app_name})") for option in list_group_options(session, actor)]


def parse_group_ids(values: Iterable[str]) -> list[int]:
    ids = []
    for value in values:
        if not value.strip().isdigit():
            raise ServiceError("bad group selection", field_errors={"group_ids": f"{value!r} is not a group id"})
        ids.append(int(value))
    return ids


def parse_optional_id(value: str | None, field: str) -> int | None:
    """A filter's id from the query string: blank means "any"; junk is a field error."""
    if value is None or not value.strip():
        return None
    if not value.strip().isdigit():
        raise ServiceError("bad filter", field_errors={field: f"{value!r} is not an id"})
    return int(value)
