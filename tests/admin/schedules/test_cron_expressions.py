"""Every cron feature, as fire-time chains in UTC (zones and DST are in test_time_zones.py)."""

from __future__ import annotations

from datetime import datetime, UTC

import pytest

from shardcron.admin.schedules.cron import parse_cron
from shardcron.admin.schedules.cron_syntax import Dialect
from shardcron.admin.schedules.schedule import next_fire_at_ms
from shardcron.core.clock import datetime_to_ms
from tests.support.fire_times import fires, next_fire


def utc(conf: str, after: str, count: int = 5) -> list[str]:
    """Fires in UTC, written without the (always +00:00) offset to keep the chains short."""
    return [f.removesuffix("+00:00") for f in fires(conf, "UTC", after + "+00:00", count)]


def test_next_fire_is_a_utc_epoch_ms_instant() -> None:
    after_ms = datetime_to_ms(datetime(2026, 1, 5, 10, 7, tzinfo=UTC))
    assert next_fire_at_ms("CRON", "*/15 * * * *", "UTC", after_ms) == datetime_to_ms(
        datetime(2026, 1, 5, 10, 15, tzinfo=UTC)
    )


def test_step_from_star() -> None:
    assert utc("*/15 * * * *", "2026-01-05T10:07:00", 4) == [
        "2026-01-05T10:15:00", "2026-01-05T10:30:00", "2026-01-05T10:45:00", "2026-01-05T11:00:00",
    ]


def test_step_from_a_start_value_runs_to_the_end_of_the_field() -> None:
    assert utc("5/10 * * * *", "2026-01-05T10:50:00", 3) == [
        "2026-01-05T10:55:00", "2026-01-05T11:05:00", "2026-01-05T11:15:00",
    ]


def test_step_within_a_range() -> None:
    assert utc("10-50/20 9 * * *", "2026-01-05T00:00:00", 4) == [
        "2026-01-05T09:10:00", "2026-01-05T09:30:00", "2026-01-05T09:50:00", "2026-01-06T09:10:00",
    ]


def test_lists() -> None:
    assert utc("0 9,17 * * *", "2026-01-05T12:00:00", 3) == [
        "2026-01-05T17:00:00", "2026-01-06T09:00:00", "2026-01-06T17:00:00",
    ]


def test_month_names_in_any_case() -> None:
    assert utc("0 0 1 jan,Jul *", "2026-01-05T00:00:00", 3) == [
        "2026-07-01T00:00:00", "2027-01-01T00:00:00", "2027-07-01T00:00:00",
    ]


def test_month_step() -> None:
    assert utc("0 0 1 */3 *", "2026-01-05T00:00:00", 4) == [
        "2026-04-01T00:00:00", "2026-07-01T00:00:00", "2026-10-01T00:00:00", "2027-01-01T00:00:00",
    ]


def test_weekday_name_range() -> None:
    # 2026-01-02 is a Friday
    assert utc("30 8 * * mon-FRI", "2026-01-02T09:00:00", 6) == [
        "2026-01-05T08:30:00", "2026-01-06T08:30:00", "2026-01-07T08:30:00",
        "2026-01-08T08:30:00", "2026-01-09T08:30:00", "2026-01-12T08:30:00",
    ]


@pytest.mark.parametrize("sunday", ["0", "7", "SUN", "sun"])
def test_unix_sunday_is_0_or_7(sunday: str) -> None:
    assert utc(f"0 0 * * {sunday}", "2026-01-01T00:00:00", 3) == [
        "2026-01-04T00:00:00", "2026-01-11T00:00:00", "2026-01-18T00:00:00",
    ]


def test_unix_weekday_range_ending_in_7() -> None:
    assert utc("0 0 * * 5-7", "2026-01-01T00:00:00", 4) == [
        "2026-01-02T00:00:00", "2026-01-03T00:00:00", "2026-01-04T00:00:00", "2026-01-09T00:00:00",
    ]


def test_quartz_weekdays_count_from_sunday_1() -> None:
    assert utc("0 0 6 ? * 1", "2026-01-01T00:00:00", 2) == ["2026-01-04T06:00:00", "2026-01-11T06:00:00"]
    assert utc("0 0 6 ? * 2", "2026-01-01T00:00:00", 2) == ["2026-01-05T06:00:00", "2026-01-12T06:00:00"]
    assert utc("0 0 6 ? * 7", "2026-01-01T00:00:00", 2) == ["2026-01-03T06:00:00", "2026-01-10T06:00:00"]


def test_quartz_seconds_field() -> None:
    assert utc("*/20 * * * * ?", "2026-01-05T10:00:50", 3) == [
        "2026-01-05T10:01:00", "2026-01-05T10:01:20", "2026-01-05T10:01:40",
    ]
    assert utc("15,45 30 9 * * ?", "2026-01-05T10:00:00", 3) == [
        "2026-01-06T09:30:15", "2026-01-06T09:30:45", "2026-01-07T09:30:15",
    ]


def test_quartz_year_field_ends_the_schedule() -> None:
    assert utc("0 0 0 1 1 ? 2027-2029", "2026-06-01T00:00:00") == [
        "2027-01-01T00:00:00", "2028-01-01T00:00:00", "2029-01-01T00:00:00",
    ]
    assert next_fire("0 0 0 1 1 ? 2027-2029", "UTC", "2029-01-01T00:00:00+00:00") is None


def test_quartz_year_list_and_step() -> None:
    assert utc("0 0 0 1 1 ? 2030/10,2035", "2026-06-01T00:00:00") == [
        "2030-01-01T00:00:00", "2035-01-01T00:00:00", "2040-01-01T00:00:00",
        "2050-01-01T00:00:00", "2060-01-01T00:00:00",
    ]


def test_quartz_star_year_is_every_year_past_2099() -> None:
    assert utc("0 0 12 1 1 ? *", "2099-06-01T00:00:00", 2) == ["2100-01-01T12:00:00", "2101-01-01T12:00:00"]


def test_quartz_both_day_fields_star() -> None:
    assert utc("0 0 0 * * *", "2026-01-30T12:00:00", 3) == [
        "2026-01-31T00:00:00", "2026-02-01T00:00:00", "2026-02-02T00:00:00",
    ]


def test_question_mark_in_unix_day_fields_means_any() -> None:
    assert utc("0 0 ? * 1", "2026-01-01T00:00:00", 2) == ["2026-01-05T00:00:00", "2026-01-12T00:00:00"]


def test_last_day_of_month() -> None:
    assert utc("0 0 L * *", "2026-01-01T00:00:00", 4) == [
        "2026-01-31T00:00:00", "2026-02-28T00:00:00", "2026-03-31T00:00:00", "2026-04-30T00:00:00",
    ]
    assert utc("0 0 0 L 2 ?", "2026-03-01T00:00:00", 2) == ["2027-02-28T00:00:00", "2028-02-29T00:00:00"]


def test_days_before_the_last() -> None:
    assert utc("0 0 L-3 * *", "2026-01-01T00:00:00", 4) == [
        "2026-01-28T00:00:00", "2026-02-25T00:00:00", "2026-03-28T00:00:00", "2026-04-27T00:00:00",
    ]


def test_last_weekday_of_month() -> None:
    # Jan 31 and Feb 28 are Saturdays, May 31 a Sunday
    assert utc("0 0 0 LW * ?", "2026-01-01T00:00:00") == [
        "2026-01-30T00:00:00", "2026-02-27T00:00:00", "2026-03-31T00:00:00",
        "2026-04-30T00:00:00", "2026-05-29T00:00:00",
    ]


def test_nearest_weekday() -> None:
    # Feb 15 and Mar 15 are Sundays (-> Monday), Aug 15 a Saturday (-> Friday)
    assert utc("0 0 15W * *", "2026-01-01T00:00:00", 4) == [
        "2026-01-15T00:00:00", "2026-02-16T00:00:00", "2026-03-16T00:00:00", "2026-04-15T00:00:00",
    ]
    assert next_fire("0 0 15W * *", "UTC", "2026-08-01T00:00:00+00:00") == "2026-08-14T00:00:00+00:00"


def test_nearest_weekday_never_crosses_the_month() -> None:
    # Aug 1 is a Saturday: the 3rd (Monday), not July 31
    assert utc("0 0 1W * *", "2026-07-15T00:00:00", 3) == [
        "2026-08-03T00:00:00", "2026-09-01T00:00:00", "2026-10-01T00:00:00",
    ]
    # May 31 is a Sunday: the 29th (Friday), not June 1; months without a 31st are skipped
    assert utc("0 0 31W * *", "2026-05-01T00:00:00") == [
        "2026-05-29T00:00:00", "2026-07-31T00:00:00", "2026-08-31T00:00:00",
        "2026-10-30T00:00:00", "2026-12-31T00:00:00",
    ]


@pytest.mark.parametrize("conf", ["0 0 * * 5L", "0 0 * * FRIL", "0 0 0 ? * 6L", "0 0 0 ? * friL"])
def test_last_friday_of_month(conf: str) -> None:
    assert utc(conf, "2026-01-01T00:00:00", 4) == [
        "2026-01-30T00:00:00", "2026-02-27T00:00:00", "2026-03-27T00:00:00", "2026-04-24T00:00:00",
    ]


@pytest.mark.parametrize("conf", ["0 0 0 ? * 6#3", "0 0 0 ? * FRI#3", "0 0 * * 5#3"])
def test_third_friday(conf: str) -> None:
    assert utc(conf, "2026-01-01T00:00:00", 4) == [
        "2026-01-16T00:00:00", "2026-02-20T00:00:00", "2026-03-20T00:00:00", "2026-04-17T00:00:00",
    ]


def test_fifth_monday_skips_months_without_one() -> None:
    assert utc("0 0 * * 1#5", "2026-01-01T00:00:00", 4) == [
        "2026-03-30T00:00:00", "2026-06-29T00:00:00", "2026-08-31T00:00:00", "2026-11-30T00:00:00",
    ]


def test_unix_both_day_fields_restricted_match_either() -> None:
    # the 13th or any Friday (Vixie cron); Apr 13 is a Monday
    assert utc("0 0 13 * 5", "2026-03-25T00:00:00") == [
        "2026-03-27T00:00:00", "2026-04-03T00:00:00", "2026-04-10T00:00:00",
        "2026-04-13T00:00:00", "2026-04-17T00:00:00",
    ]
    assert utc("0 0 1-31/2 * 1", "2026-01-01T00:00:00", 6) == [
        "2026-01-03T00:00:00", "2026-01-05T00:00:00", "2026-01-07T00:00:00",
        "2026-01-09T00:00:00", "2026-01-11T00:00:00", "2026-01-12T00:00:00",
    ]


def test_unix_day_field_starting_with_star_combines_by_and() -> None:
    # Vixie cron: `*/2` counts as unrestricted, so odd-numbered days that are Mondays
    assert utc("0 0 */2 * 1", "2026-01-01T00:00:00", 4) == [
        "2026-01-05T00:00:00", "2026-01-19T00:00:00", "2026-02-09T00:00:00", "2026-02-23T00:00:00",
    ]


def test_wrapping_hour_range() -> None:
    assert utc("0 22-2 * * *", "2026-01-05T12:00:00", 6) == [
        "2026-01-05T22:00:00", "2026-01-05T23:00:00", "2026-01-06T00:00:00",
        "2026-01-06T01:00:00", "2026-01-06T02:00:00", "2026-01-06T22:00:00",
    ]


@pytest.mark.parametrize("conf", ["0 0 * * FRI-MON", "0 0 * * 5-1", "0 0 0 ? * FRI-MON", "0 0 0 ? * 6-2"])
def test_wrapping_weekday_range(conf: str) -> None:
    assert utc(conf, "2026-01-01T00:00:00") == [
        "2026-01-02T00:00:00", "2026-01-03T00:00:00", "2026-01-04T00:00:00",
        "2026-01-05T00:00:00", "2026-01-09T00:00:00",
    ]


@pytest.mark.parametrize(
    ("alias", "expected"),
    [
        ("@hourly", ["2026-01-07T11:00:00", "2026-01-07T12:00:00"]),
        ("@daily", ["2026-01-08T00:00:00", "2026-01-09T00:00:00"]),
        ("@midnight", ["2026-01-08T00:00:00", "2026-01-09T00:00:00"]),
        ("@weekly", ["2026-01-11T00:00:00", "2026-01-18T00:00:00"]),
        ("@monthly", ["2026-02-01T00:00:00", "2026-03-01T00:00:00"]),
        ("@yearly", ["2027-01-01T00:00:00", "2028-01-01T00:00:00"]),
        ("@ANNUALLY", ["2027-01-01T00:00:00", "2028-01-01T00:00:00"]),
    ],
)
def test_aliases(alias: str, expected: list[str]) -> None:
    assert utc(alias, "2026-01-07T10:30:00", 2) == expected


def test_leap_day() -> None:
    assert utc("0 0 29 2 *", "2026-01-01T00:00:00", 2) == ["2028-02-29T00:00:00", "2032-02-29T00:00:00"]


def test_year_rollover() -> None:
    assert utc("59 23 31 12 *", "2026-12-31T23:59:00", 2) == ["2027-12-31T23:59:00", "2028-12-31T23:59:00"]


def test_next_fire_is_strictly_after() -> None:
    assert next_fire("0 * * * *", "UTC", "2026-01-05T10:00:00+00:00") == "2026-01-05T11:00:00+00:00"
    assert next_fire("0 * * * *", "UTC", "2026-01-05T09:59:59.999+00:00") == "2026-01-05T10:00:00+00:00"
    assert next_fire("0 * * * *", "UTC", "2026-01-05T10:00:00.001+00:00") == "2026-01-05T11:00:00+00:00"
    assert next_fire("* * * * * ?", "UTC", "2026-01-05T10:00:00.500+00:00") == "2026-01-05T10:00:01+00:00"


def test_fires_before_1970_and_far_ahead() -> None:
    assert next_fire("0 0 1 1 *", "UTC", "1969-06-01T00:00:00+00:00") == "1970-01-01T00:00:00+00:00"
    assert next_fire("0 0 1 1 *", "UTC", "9998-06-01T00:00:00+00:00") is None


def test_parsed_expressions_are_cached_and_described() -> None:
    first = parse_cron("0 0 12 ? * MON-FRI")
    assert parse_cron("0 0 12 ? * MON-FRI") is first
    assert first.dialect is Dialect.QUARTZ
    assert parse_cron("*/5 * * * *").dialect is Dialect.UNIX
    assert parse_cron("0 0 * * 0").day_of_week == parse_cron("0 0 * * 7").day_of_week
    assert parse_cron("*/5 * * * *").every_hour
    assert not parse_cron("0 0-22 * * *").every_hour
