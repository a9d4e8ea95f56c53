"""Whole numbers from untrusted input: ASCII digits only, bounded to the column they end up in.

`str.isdigit()` and `int()` accept every Unicode digit (`int("١٢")` is 12) and any length, and a
number beyond 64 bits overflows the database driver instead of failing a check. Everything the
admin and the executor read from a peer or a person goes through here, so the rules are one:
an optional `-`, ASCII `0-9` only, surrounding blanks ignored, and a range the caller names.
"""

from __future__ import annotations

import re

#: A signed 64-bit column (BIGINT; Java's `long` on the wire).
BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1
#: A signed 32-bit column (INTEGER on MySQL; Java's `int` on the wire).
INT_MIN = -(2**31)
INT_MAX = 2**31 - 1
#: Row ids: positive BIGINTs.
ID_MIN, ID_MAX = 1, BIGINT_MAX
#: UTC epoch milliseconds a person may name: 1970-01-01 to 9999-12-31T23:59:59.999Z.
EPOCH_MS_MIN, EPOCH_MS_MAX = 0, 253_402_300_799_999

# re.ASCII keeps `\s` to ASCII blanks; digits are spelled out, never `\d` (which is Unicode).
# 20 digits is more than any 64-bit number has, so longer text is refused before int() sees it.
_WHOLE = re.compile(r"\s*(-?[0-9]{1,20})\s*", re.ASCII)


def parse_whole(text: str) -> int | None:
    """The whole number `text` spells in ASCII digits (optional `-`), or None. No range check."""
    match = _WHOLE.fullmatch(text)
    return int(match.group(1)) if match else None


def whole_in_range(value: object, low: int, high: int) -> int | None:
    """`value` (an int that is not a bool, or ASCII-digit text) if it lies in `low..high`, else None."""
    if isinstance(value, bool):
        return None
    number = value if isinstance(value, int) else parse_whole(value) if isinstance(value, str) else None
    if number is None or not low <= number <= high:
        return None
    return number
