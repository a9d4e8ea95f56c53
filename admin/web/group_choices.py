"""Executor groups as form choices (filters, grants, the job form's group select)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from ..services.actor import Actor
from ..services.errors import FieldErrors
from ..services.group_options import list_group_options
from ..services.numbers import parse_id_list
from ..texts import _t


def group_choices(session: Session, actor: Actor) -> list[tuple[int, str]]:
    """(id, "title (app_name)") of the groups the actor may see, by app name."""
    return [(option.id, f"{option.title} ({option.app_name})") for option in list_group_options(session, actor)]


def parse_group_ids(values: Iterable[str], field: str = "group_ids") -> list[int]:
    errors = FieldErrors()
    ids = parse_id_list(errors, field, values)
    errors.raise_if_any(_t("bad group selection"))
    return ids
