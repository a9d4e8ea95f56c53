"""The one rule for numbers from outside: ASCII digits, an optional minus, bounded by the caller."""

from __future__ import annotations

import pytest

from shardcron.core.numbers import BIGINT_MAX, parse_whole, whole_in_range


@pytest.mark.parametrize(("text", "number"), [("0", 0), ("42", 42), (" 7 ", 7), ("-3", -3), ("007", 7), (str(BIGINT_MAX), BIGINT_MAX), ("9" * 20, int("9" * 20))])
def test_ascii_digits_are_read(text: str, number: int) -> None:
    assert parse_whole(text) == number


@pytest.mark.parametrize(
    "text",
    ["", " ", "-", "+1", "1.0", "1e3", "0x10", "1_000", "1,2", "١", "١٢", "²", "①", "１", "1\x00", "\u00a01", "9" * 21, "--1", "NaN"],
)
def test_anything_else_is_not_a_number(text: str) -> None:
    """`int()` takes "١٢", "１" and "1_000"; `str.isdigit()` takes "²" and "①" too. None of them here."""
    assert parse_whole(text) is None


def test_whole_in_range_bounds_ints_and_text_alike() -> None:
    assert whole_in_range("5", 1, 10) == 5 and whole_in_range(5, 1, 10) == 5
    assert whole_in_range("11", 1, 10) is None and whole_in_range(2**64, 1, BIGINT_MAX) is None
    assert whole_in_range(True, 0, 10) is None and whole_in_range(1.0, 0, 10) is None and whole_in_range(None, 0, 10) is None
