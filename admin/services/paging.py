"""Pages of a list: bounded page sizes, a total, and stable order.

Every list the console and the API show goes through `paginate`: `per_page` is capped, so no
request can ask the database for a million rows, and the total is counted with the same filters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..texts import _t
from .errors import FieldErrors
from .numbers import check_whole

T = TypeVar("T")

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 200
#: Deep pages of a huge table cost an OFFSET scan; past this, narrow the filters instead.
MAX_PAGE = 10_000


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = DEFAULT_PER_PAGE

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @classmethod
    def parse(cls, page: object = None, per_page: object = None) -> PageRequest:
        """From query-string values (strings, ints or None); a ServiceError names a bad one."""
        errors = FieldErrors()
        values = {}
        for name, raw, default, top in (("page", page, 1, MAX_PAGE), ("per_page", per_page, DEFAULT_PER_PAGE, MAX_PER_PAGE)):
            if raw is None or raw == "":
                values[name] = default
                continue
            value = check_whole(errors, name, raw, 1, top)
            values[name] = default if value is None else value
        errors.raise_if_any(_t("bad page request"))
        return cls(values["page"], values["per_page"])


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int
    #: False when `total` stopped counting at a cap (huge run-log tables): "more than total".
    total_exact: bool = True

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def count_rows(session: Session, stmt: sa.Select) -> int:
    """The number of rows `stmt` would return (its ORDER BY dropped)."""
    return session.scalar(sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())) or 0


def count_rows_capped(session: Session, stmt: sa.Select, cap: int) -> tuple[int, bool]:
    """Count up to `cap` rows: (count, exact). Counting a million-row filter costs more than the
    page itself; nobody pages that far, so past the cap the total says "more than"."""
    inner = stmt.order_by(None).with_only_columns(sa.literal(1), maintain_column_froms=True).limit(cap + 1).subquery()
    found = session.scalar(sa.select(sa.func.count()).select_from(inner)) or 0
    return (cap, False) if found > cap else (found, True)
