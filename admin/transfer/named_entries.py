"""The checks an import section whose entries are matched by one name (`workflows`,
`calendars`) makes of every entry before its own: an object, with no unknown key, whose `name`
is text that is not blank (read stripped) and is not the name of an entry before it.

Each problem is reported under the entry's place (`calendars[2].name`), and an entry with one is
left out: the section's own checks see only the entries that passed.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

from ..texts import Text, _t
from .plan import ImportPlan
from .plan_groups import unknown_fields


@dataclass(frozen=True)
class NamedEntry:
    index: int
    #: The entry's place in the document, `workflows[3]`.
    place: str
    entry: dict[str, Any]
    #: Its name, stripped.
    name: str


def named_entries(
    plan: ImportPlan, section: str, entries: list[Any], allowed: Collection[str], *, also_at: Callable[[str, int], Text]
) -> Iterator[NamedEntry]:
    """The entries of `section` that pass, in order. `also_at(repr(name), index)` is the problem
    of a name that the entry at `index` has already."""
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        place = f"{section}[{index}]"
        if not isinstance(entry, dict):
            plan.problem(place, _t("must be an object"))
            continue
        unknown_fields(plan, place, entry, tuple(allowed))
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            plan.problem(f"{place}.name", _t("is required") if name is None or isinstance(name, str) else _t("must be text"))
            continue
        name = name.strip()
        if name in seen:
            plan.problem(f"{place}.name", also_at(repr(name), seen[name]))
            continue
        seen[name] = index
        yield NamedEntry(index, place, entry, name)
