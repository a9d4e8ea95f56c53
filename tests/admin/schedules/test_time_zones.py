"""Cron fields are wall-clock time in the job's zone; DST gaps and repeats follow one rule:

- a wall time the clocks skip fires once, at the jump (the first real instant after the gap);
- a wall time that happens twice fires once, at its first occurrence,
- except for expressions matching every hour (hour `*`), which fire in both passes.
"""

from __future__ import annotations

import pytest

from shardcron.admin.schedules.schedule import next_fire_at_ms
from shardcron.admin.schedules.zones import Transition, zone_timeline
from tests.support.fire_times import fires, iso_to_ms, next_fire

BERLIN = "Europe/Berlin"  # 2026-03-29 02:00 CET -> 03:00 CEST; 2026-10-25 03:00 CEST -> 02:00 CET
NEW_YORK = "America/New_York"  # 2026-03-08 02:00 EST -> 03:00 EDT; 2026-11-01 02:00 EDT -> 01:00 EST
LORD_HOWE = "Australia/Lord_Howe"  # 2026-10-04 02:00 -> 02:30 (+11); 2026-04-05 02:00 -> 01:30 (+10:30)


def test_wall_clock_time_in_the_job_zone() -> None:
    assert fires("0 9 * * *", BERLIN, "2026-01-05T00:00:00+01:00", 2) == [
        "2026-01-05T09:00:00+01:00", "2026-01-06T09:00:00+01:00",
    ]
    assert fires("0 9 * * *", "Asia/Tokyo", "2026-01-05T00:00:00+00:00", 2) == [
        "2026-01-06T09:00:00+09:00", "2026-01-07T09:00:00+09:00",
    ]
    # summer and winter in one chain: same wall time, different offsets
    assert fires("0 0 9 1 * ?", BERLIN, "2026-03-15T00:00:00+01:00", 2) == [
        "2026-04-01T09:00:00+02:00", "2026-05-01T09:00:00+02:00",
    ]


def test_utc_has_no_shifts() -> None:
    assert fires("30 2 * * *", "UTC", "2026-03-28T00:00:00+00:00", 3) == [
        "2026-03-28T02:30:00+00:00", "2026-03-29T02:30:00+00:00", "2026-03-30T02:30:00+00:00",
    ]
    assert fires("30 2 * * *", "UTC", "2026-10-24T12:00:00+00:00", 2) == [
        "2026-10-25T02:30:00+00:00", "2026-10-26T02:30:00+00:00",
    ]


# --- spring forward: wall times that do not exist ---------------------------------------


def test_berlin_skipped_time_fires_at_the_jump() -> None:
    assert fires("30 2 * * *", BERLIN, "2026-03-27T12:00:00+01:00", 3) == [
        "2026-03-28T02:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00",
    ]
    assert fires("0 0 2 * * ?", BERLIN, "2026-03-28T12:00:00+01:00", 2) == [
        "2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00",
    ]


def test_berlin_several_skipped_times_fire_once_together() -> None:
    assert fires("0,30 2 * * *", BERLIN, "2026-03-28T12:00:00+01:00", 3) == [
        "2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00", "2026-03-30T02:30:00+02:00",
    ]


def test_berlin_frequent_schedule_through_the_gap_never_fires_twice() -> None:
    # 02:00, 02:20 and 02:40 do not exist; they fire once, at 03:00, which is also a match
    assert fires("*/20 * * * *", BERLIN, "2026-03-29T01:30:00+01:00", 4) == [
        "2026-03-29T01:40:00+01:00", "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:20:00+02:00", "2026-03-29T03:40:00+02:00",
    ]
    assert fires("0 * * * *", BERLIN, "2026-03-29T00:30:00+01:00", 3) == [
        "2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00",
    ]
    assert fires("*/30 * * * * ?", BERLIN, "2026-03-29T01:59:00+01:00", 4) == [
        "2026-03-29T01:59:30+01:00", "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:00:30+02:00", "2026-03-29T03:01:00+02:00",
    ]


def test_berlin_gap_fire_from_the_last_instant_before_and_at_the_jump() -> None:
    assert next_fire("30 2 * * *", BERLIN, "2026-03-29T01:59:59.999+01:00") == "2026-03-29T03:00:00+02:00"
    assert next_fire("30 2 * * *", BERLIN, "2026-03-29T03:00:00+02:00") == "2026-03-30T02:30:00+02:00"
    assert next_fire("30 2 * * *", BERLIN, "2026-03-29T02:59:59+02:00") == "2026-03-29T03:00:00+02:00"


def test_berlin_time_after_the_gap_is_not_moved() -> None:
    assert fires("30 3 * * *", BERLIN, "2026-03-28T12:00:00+01:00", 2) == [
        "2026-03-29T03:30:00+02:00", "2026-03-30T03:30:00+02:00",
    ]


def test_new_york_skipped_time_fires_at_the_jump() -> None:
    assert fires("30 2 * * *", NEW_YORK, "2026-03-06T12:00:00-05:00", 3) == [
        "2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00",
    ]


def test_lord_howe_half_hour_gap() -> None:
    # 02:00-02:30 does not exist on 2026-10-04
    assert fires("15 2 * * *", LORD_HOWE, "2026-10-02T12:00:00+10:30", 3) == [
        "2026-10-03T02:15:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-05T02:15:00+11:00",
    ]
    assert fires("*/10 * * * *", LORD_HOWE, "2026-10-04T01:45:00+10:30", 3) == [
        "2026-10-04T01:50:00+10:30", "2026-10-04T02:30:00+11:00", "2026-10-04T02:40:00+11:00",
    ]


def test_a_whole_skipped_day() -> None:
    # Samoa jumped from 2011-12-29 23:59:59 (-10:00) to 2011-12-31 00:00 (+14:00)
    assert fires("0 12 * * *", "Pacific/Apia", "2011-12-28T13:00:00-10:00", 3) == [
        "2011-12-29T12:00:00-10:00", "2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00",
    ]


# --- fall back: wall times that happen twice ----------------------------------------------


def test_berlin_repeated_time_fires_once_at_its_first_occurrence() -> None:
    assert fires("30 2 * * *", BERLIN, "2026-10-24T12:00:00+02:00", 2) == [
        "2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00",
    ]
    assert fires("0 1-3 * * *", BERLIN, "2026-10-25T00:30:00+02:00", 4) == [
        "2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00",
        "2026-10-25T03:00:00+01:00", "2026-10-26T01:00:00+01:00",
    ]


def test_berlin_every_hour_schedule_keeps_its_real_time_cadence() -> None:
    assert fires("*/20 * * * *", BERLIN, "2026-10-25T01:30:00+02:00", 8) == [
        "2026-10-25T01:40:00+02:00", "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:20:00+02:00", "2026-10-25T02:40:00+02:00",
        "2026-10-25T02:00:00+01:00", "2026-10-25T02:20:00+01:00",
        "2026-10-25T02:40:00+01:00", "2026-10-25T03:00:00+01:00",
    ]
    assert fires("0 * * * *", BERLIN, "2026-10-25T00:30:00+02:00", 4) == [
        "2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00",
    ]


def test_berlin_starting_inside_the_first_pass() -> None:
    assert next_fire("*/20 * * * *", BERLIN, "2026-10-25T02:50:00+02:00") == "2026-10-25T02:00:00+01:00"
    assert next_fire("30 2 * * *", BERLIN, "2026-10-25T02:40:00+02:00") == "2026-10-26T02:30:00+01:00"


def test_berlin_starting_inside_the_second_pass() -> None:
    assert next_fire("*/20 * * * *", BERLIN, "2026-10-25T02:10:00+01:00") == "2026-10-25T02:20:00+01:00"
    assert next_fire("30 2 * * *", BERLIN, "2026-10-25T02:10:00+01:00") == "2026-10-26T02:30:00+01:00"
    assert next_fire("30 2 * * *", BERLIN, "2026-10-25T02:00:00+01:00") == "2026-10-26T02:30:00+01:00"


def test_new_york_repeated_time() -> None:
    assert fires("30 1 * * *", NEW_YORK, "2026-10-31T12:00:00-04:00", 2) == [
        "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00",
    ]
    assert fires("*/30 * * * *", NEW_YORK, "2026-11-01T00:15:00-04:00", 6) == [
        "2026-11-01T00:30:00-04:00", "2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00",
        "2026-11-01T01:00:00-05:00", "2026-11-01T01:30:00-05:00", "2026-11-01T02:00:00-05:00",
    ]


def test_lord_howe_half_hour_repeat() -> None:
    # 01:30-02:00 happens twice on 2026-04-05
    assert fires("45 1 * * *", LORD_HOWE, "2026-04-04T12:00:00+11:00", 2) == [
        "2026-04-05T01:45:00+11:00", "2026-04-06T01:45:00+10:30",
    ]
    assert fires("*/15 * * * *", LORD_HOWE, "2026-04-05T01:10:00+11:00", 6) == [
        "2026-04-05T01:15:00+11:00", "2026-04-05T01:30:00+11:00", "2026-04-05T01:45:00+11:00",
        "2026-04-05T01:30:00+10:30", "2026-04-05T01:45:00+10:30", "2026-04-05T02:00:00+10:30",
    ]


def year_of_fires(conf: str, timezone: str) -> list[int]:
    """Every fire in 2026 (local calendar year) by repeated next_fire_at_ms."""
    at_ms = iso_to_ms(fires("0 0 1 1 *", timezone, "2025-12-01T00:00:00+00:00", 1)[0]) - 1
    end_ms = iso_to_ms(fires("0 0 1 1 *", timezone, "2026-12-01T00:00:00+00:00", 1)[0])
    found = []
    while (at_ms := next_fire_at_ms("CRON", conf, timezone, at_ms)) is not None and at_ms < end_ms:
        found.append(at_ms)
    return found


@pytest.mark.parametrize(
    ("timezone", "hourly_fires"),
    # Every wall hour fires once; the repeated hour of autumn twice (hour field `*`). Lord
    # Howe repeats only 01:30-02:00, which holds no :13, and its skipped 02:13 fires at 02:30.
    [(BERLIN, 8761), (NEW_YORK, 8761), (LORD_HOWE, 8760), ("UTC", 8760), ("Asia/Tokyo", 8760)],
)
def test_a_year_of_fires_is_strictly_increasing_and_complete(timezone: str, hourly_fires: int) -> None:
    hourly = year_of_fires("13 * * * *", timezone)
    daily = year_of_fires("30 2 * * *", timezone)
    assert (len(hourly), len(daily)) == (hourly_fires, 365)
    for instants in (hourly, daily):
        assert all(a < b for a, b in zip(instants, instants[1:], strict=False))


def test_zone_transitions_are_found_to_the_second() -> None:
    year_s = (iso_to_ms("2026-01-01T00:00:00+00:00") // 1000, iso_to_ms("2027-01-01T00:00:00+00:00") // 1000)
    assert list(zone_timeline(BERLIN).transitions_between(*year_s)) == [
        Transition(iso_to_ms("2026-03-29T01:00:00+00:00") // 1000, 3600, 7200),
        Transition(iso_to_ms("2026-10-25T01:00:00+00:00") // 1000, 7200, 3600),
    ]
    assert list(zone_timeline(LORD_HOWE).transitions_between(*year_s)) == [
        Transition(iso_to_ms("2026-04-04T15:00:00+00:00") // 1000, 39600, 37800),
        Transition(iso_to_ms("2026-10-03T15:30:00+00:00") // 1000, 37800, 39600),
    ]
    assert list(zone_timeline("UTC").transitions_between(*year_s)) == []
