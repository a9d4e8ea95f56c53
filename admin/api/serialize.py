"""Service views -> JSON values: dataclasses to objects, enums to their strings, dates to ISO."""

from __future__ import annotations

import dataclasses
import datetime as dt
from enum import Enum
from typing import Any

from ..services.paging import Page


def to_json(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json(v) for v in value]
    return value


def page_json(page: Page) -> dict[str, Any]:
    return {
        "items": [to_json(item) for item in page.items],
        "page": page.page,
        "per_page": page.per_page,
        "total": page.total,
        "total_exact": page.total_exact,
        "pages": page.pages,
    }
