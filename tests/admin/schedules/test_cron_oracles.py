"""Independent oracles: croniter for plain 5-field expressions in UTC, and a brute-force walk
over real instants for the DST rule. Both draw many random cases from a fixed seed."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, UTC
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from shardcron.admin.schedules.schedule import next_fire_at_ms
from shardcron.core.clock import datetime_to_ms, ms_to_datetime

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
WEEKDAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]


def _random_field(rng: random.Random, low: int, high: int, names: list[str] | None = None) -> str:
    def value(v: int) -> str:
        return names[v - low] if names and rng.random() < 0.3 else str(v)

    kind = rng.choice(["star", "star", "value", "range", "star_step", "range_step", "list"])
    if kind == "star":
        return "*"
    if kind == "value":
        return value(rng.randint(low, high))
    if kind == "star_step":
        return f"*/{rng.randint(1, max(1, (high - low) // 2))}"
    a, b = sorted(rng.sample(range(low, high + 1), 2))
    if kind == "range":
        return f"{value(a)}-{value(b)}"
    if kind == "range_step":
        return f"{a}-{b}/{rng.randint(1, max(1, b - a))}"
    return ",".join(value(v) for v in sorted(rng.sample(range(low, high + 1), rng.randint(2, 4))))


def random_unix_expression(rng: random.Random) -> str:
    minute = _random_field(rng, 0, 59)
    hour = _random_field(rng, 0, 23)
    day_of_month = _random_field(rng, 1, 31)
    month = _random_field(rng, 1, 12, MONTHS)
    day_of_week = _random_field(rng, 0, 6, WEEKDAYS)
    if day_of_month.startswith("*/") and day_of_week != "*":
        # croniter reads a restricted `*/n` day field as restricted (OR); shardcron follows
        # Vixie cron (AND) — tested in test_cron_expressions.py, left out of the comparison.
        day_of_month = "*"
    if day_of_week.startswith("*/") and day_of_month != "*":
        day_of_week = "*"
    return f"{minute} {hour} {day_of_month} {month} {day_of_week}"


def test_matches_croniter_on_random_unix_expressions_in_utc() -> None:
    rng = random.Random(20260329)
    compared = 0
    for _ in range(400):
        expression = random_unix_expression(rng)
        start = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 10 * 365 * 86_400))
        try:
            oracle = croniter(expression, start)
            expected = [datetime_to_ms(oracle.get_next(datetime)) for _ in range(8)]
        except Exception:  # noqa: BLE001 - croniter gives up on rare expressions (e.g. Feb 30): skip them
            continue
        at_ms = datetime_to_ms(start)
        got = []
        for _ in range(8):
            at_ms = next_fire_at_ms("CRON", expression, "UTC", at_ms)
            got.append(at_ms)
        assert got == expected, f"{expression} after {start.isoformat()}"
        compared += 1
    assert compared > 350  # the comparison really ran


# --- the DST rule, checked by walking every minute of real time ---------------------------

TRANSITION_DAYS = [
    ("Europe/Berlin", "2026-03-29"), ("Europe/Berlin", "2026-10-25"),
    ("America/New_York", "2026-03-08"), ("America/New_York", "2026-11-01"),
    ("Australia/Lord_Howe", "2026-10-04"), ("Australia/Lord_Howe", "2026-04-05"),
]
DST_EXPRESSIONS = [
    "*/20 * * * *", "0 * * * *", "30 2 * * *", "0,30 2 * * *", "15 1 * * *", "45 1-3 * * *",
    "*/7 1-2 * * *", "10,50 * * * *", "0 0-23/2 * * *", "59 2 * * *", "0 3 * * *", "*/30 * * * *",
]


def expected_by_walking(expression: str, zone: ZoneInfo, start: datetime, end: datetime) -> list[int]:
    """Fires in [start, end) by the documented rule, minute by minute over real instants."""
    # croniter expands the fields; these expressions restrict only minute and hour
    (minutes, hours, *days), _ = croniter.expand(expression)
    assert days == [["*"], ["*"], ["*"]]
    every_hour = hours == ["*"]

    def matches(wall: datetime) -> bool:
        return (minutes == ["*"] or wall.minute in minutes) and (every_hour or wall.hour in hours)

    fires = []
    at = start
    while at < end:
        local = at.astimezone(zone)
        wall = local.replace(tzinfo=None)
        previous_wall = (at - timedelta(minutes=1)).astimezone(zone).replace(tzinfo=None)
        if wall - previous_wall > timedelta(minutes=1):
            # clocks jumped: fire here if any skipped wall minute (or this one) matches
            skipped = previous_wall + timedelta(minutes=1)
            hit = False
            while skipped <= wall:
                hit = hit or matches(skipped)
                skipped += timedelta(minutes=1)
            if hit:
                fires.append(datetime_to_ms(at))
        elif matches(wall):
            first_pass = datetime_to_ms(wall.replace(tzinfo=zone, fold=0)) == datetime_to_ms(at)
            if first_pass or every_hour:
                fires.append(datetime_to_ms(at))
        at += timedelta(minutes=1)
    return fires


@pytest.mark.parametrize(("zone_name", "day"), TRANSITION_DAYS)
def test_dst_rule_matches_a_walk_over_real_minutes(zone_name: str, day: str) -> None:
    zone = ZoneInfo(zone_name)
    midnight = datetime.fromisoformat(day).replace(tzinfo=zone)
    # in UTC, so that adding a minute adds real time (in a zone it would add wall time)
    start = (midnight - timedelta(hours=2)).astimezone(UTC)
    end = start + timedelta(hours=8)
    for expression in DST_EXPRESSIONS:
        expected = expected_by_walking(expression, zone, start, end)
        got = []
        at_ms = datetime_to_ms(start) - 1
        while (at_ms := next_fire_at_ms("CRON", expression, zone_name, at_ms)) < datetime_to_ms(end):
            got.append(at_ms)
        shown = [ms_to_datetime(ms).astimezone(zone).isoformat() for ms in got]
        assert got == expected, f"{expression} in {zone_name} on {day}: {shown}"
