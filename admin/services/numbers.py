"""Ids and numbers from query strings, forms and JSON bodies: parsed strictly, bounded, and a bad
one is a 400 that names its field (never an OverflowError from the database driver, a 500).

The rules (ASCII digits, 64-bit ranges) live in `shardcron.core.numbers`, shared with the
wire protocol; this module turns a refusal into the services' `ServiceError`/`FieldErrors`.
"""

from __future__ import annotations

from collections.abc import Iterable

from shardcron.core.numbers import EPOCH_MS_MAX, EPOCH_MS_MIN, ID_MAX, ID_MIN, INT_MAX, parse_whole, whole_in_range

from ..texts import Text, _t
from .errors import FieldErrors, ServiceError

__all__ = ["EPOCH_MS_MAX", "EPOCH_MS_MIN", "ID_MAX", "ID_MIN", "INT_MAX", "check_whole", "filter_numbers", "optional_id", "parse_id_list", "whole", "whole_in_range"]

#: The defaults of what a number must be, and of the message of a refused one.
A_WHOLE_NUMBER = _t("a whole number")
BAD_REQUEST = _t("bad request")
BAD_FILTER = _t("bad filter")


def _describe(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def check_whole(errors: FieldErrors, field: str, value: object, low: int, high: int, *, what: Text = A_WHOLE_NUMBER) -> int | None:
    """`value` as an int in `low..high`; otherwise a message for `field` in `errors` and None.

    `value` is an int (not a bool) or text of ASCII digits; None and "" are the caller's to treat
    as absent before calling."""
    number: int | None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str):
        number = parse_whole(value)
    else:
        number = None
    if number is None:
        errors.add(field, _t("%(value)s is not %(what)s", value=_describe(value), what=what))
        return None
    if not low <= number <= high:
        errors.add(field, _t("must be between %(low)s and %(high)s", low=low, high=high))
        return None
    return number


def whole(value: object, field: str, low: int, high: int, *, what: Text = A_WHOLE_NUMBER, message: Text = BAD_REQUEST) -> int:
    """`check_whole` for one value: the int, or a 400 ServiceError naming `field`."""
    errors = FieldErrors()
    number = check_whole(errors, field, value, low, high, what=what)
    if number is None:
        raise ServiceError(_t("%(what)s: %(field)s %(problem)s", what=message, field=field, problem=errors.errors[field]), field_errors=errors.errors)
    return number


def optional_id(value: str | int | None, field: str, *, message: Text = BAD_FILTER) -> int | None:
    """A filter's id: blank means "any"; anything but a row id (1..2**63-1) is a 400 naming `field`."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return whole(value, field, ID_MIN, ID_MAX, what=_t("an id"), message=message)


def parse_id_list(errors: FieldErrors, field: str, values: Iterable[object]) -> list[int]:
    """Row ids, each checked; the first bad one is reported for `field` and the list is empty."""
    ids: list[int] = []
    for value in values:
        number = check_whole(errors, field, value, ID_MIN, ID_MAX, what=_t("an id"))
        if number is None:
            return []
        ids.append(number)
    return ids


def filter_numbers(errors: FieldErrors, args: dict, ids: Iterable[str]) -> dict[str, int]:
    """A list filter's numbers from query-string style values: the id fields named by `ids` and
    the time window `from_ms` / `to_ms` (UTC epoch ms), each absent when None or ""; a bad one is
    noted in `errors` under its name."""
    fields = [(name, ID_MIN, ID_MAX, _t("an id")) for name in ids]
    fields += [(name, EPOCH_MS_MIN, EPOCH_MS_MAX, _t("epoch milliseconds")) for name in ("from_ms", "to_ms")]
    values: dict[str, int] = {}
    for name, low, high, what in fields:
        raw = args.get(name)
        if raw in (None, ""):
            continue
        number = check_whole(errors, name, raw, low, high, what=what)
        if number is not None:
            values[name] = number
    return values
