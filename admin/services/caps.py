"""Concurrency cap fields of groups and jobs (firing.caps): `cap_runs` (empty or null: no cap;
otherwise at least 1), and a group's `cap_policy` and `cap_wait_s`. Checked here for the REST
API, the console forms and the import alike."""

from __future__ import annotations

from typing import Any

from shardcron.core.numbers import parse_whole

from ..enums import CapPolicy
from ..texts import _t
from .errors import FieldErrors
from .numbers import check_whole

#: A cap above this is no cap: the scheduler's batches are smaller.
MAX_CAP_RUNS = 100_000
#: A fire waits for a slot at most a day.
MAX_CAP_WAIT_S = 86_400
#: A group's cap fields: (default for a new group).
GROUP_CAP_DEFAULTS: dict[str, Any] = {"cap_runs": None, "cap_policy": CapPolicy.WAIT, "cap_wait_s": 60}


def check_cap(errors: FieldErrors, field: str, value: object) -> int | None:
    """`value` as a cap: None for no cap (None, "" or blank), else a whole number 1..MAX_CAP_RUNS;
    0 and negative numbers are refused with a message saying how to have no cap."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    number: object = value
    if isinstance(value, str):
        text = value.strip()
        parsed = parse_whole(text[1:]) if text.startswith("-") else parse_whole(text)
        number = -parsed if parsed is not None and text.startswith("-") else parsed if parsed is not None else value
    if isinstance(number, int) and not isinstance(number, bool) and number < 1:
        errors.add(field, _t("must be at least 1 run (%(value)s given); leave it empty for no cap", value=number))
        return None
    return check_whole(errors, field, number, 1, MAX_CAP_RUNS)


def clean_group_caps(errors: FieldErrors, merged: dict[str, Any]) -> dict[str, Any]:
    """The group's cap columns from `merged` (current values overlaid with the posted ones)."""
    out: dict[str, Any] = {"cap_runs": check_cap(errors, "cap_runs", merged["cap_runs"])}
    try:
        out["cap_policy"] = CapPolicy(merged["cap_policy"])
    except ValueError:
        errors.add("cap_policy", _t("%(value)s is not one of %(allowed)s", value=repr(merged["cap_policy"]), allowed=", ".join(p.value for p in CapPolicy)))
    wait = merged["cap_wait_s"]
    out["cap_wait_s"] = check_whole(errors, "cap_wait_s", GROUP_CAP_DEFAULTS["cap_wait_s"] if wait in (None, "") else wait, 1, MAX_CAP_WAIT_S)
    return out
