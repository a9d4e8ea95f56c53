"""The schedule interface: types, FIX_RATE, NONE, time zones, previews and every refusal."""

from __future__ import annotations

import pytest

from shardcron.admin.enums import ScheduleType
from shardcron.admin.schedules.schedule import (
    ScheduleError,
    next_fire_at_ms,
    preview_fire_times,
    validate_schedule,
)
from shardcron.core.errors import ShardcronError
from tests.support.fire_times import fires, iso_to_ms

T0 = iso_to_ms("2026-01-05T10:00:00.250+00:00")


def refusal(schedule_type: object, conf: object, timezone: object) -> ScheduleError:
    with pytest.raises(ScheduleError) as caught:
        validate_schedule(schedule_type, conf, timezone)  # type: ignore[arg-type]
    return caught.value


# --- FIX_RATE ---------------------------------------------------------------------------


def test_fix_rate_adds_the_period_to_the_previous_planned_fire() -> None:
    assert next_fire_at_ms(ScheduleType.FIX_RATE, "30", "UTC", T0) == T0 + 30_000
    assert next_fire_at_ms("FIX_RATE", "1", "Europe/Berlin", T0) == T0 + 1_000
    # the grid stays on the caller's planned fires, milliseconds included
    assert preview_fire_times("FIX_RATE", "3600", "UTC", T0, 3) == [T0 + 3_600_000, T0 + 7_200_000, T0 + 10_800_000]


def test_fix_rate_ignores_dst() -> None:
    # a 1-hour rate through Berlin's fall-back is still one real hour apart
    assert fires("3600", "Europe/Berlin", "2026-10-25T01:30:00+02:00", 3, schedule_type="FIX_RATE") == [
        "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-25T03:30:00+01:00",
    ]


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ("0", "schedule_conf: FIX_RATE period 0 s is out of range 1-2147483647"),
        ("2147483648", "schedule_conf: FIX_RATE period 2147483648 s is out of range 1-2147483647"),
        ("-5", "schedule_conf: FIX_RATE needs a whole number of seconds (e.g. 30), not '-5'"),
        ("1.5", "schedule_conf: FIX_RATE needs a whole number of seconds (e.g. 30), not '1.5'"),
        ("", "schedule_conf: FIX_RATE needs a whole number of seconds (e.g. 30), not ''"),
        (" 5", "schedule_conf: FIX_RATE needs a whole number of seconds (e.g. 30), not ' 5'"),
        ("1e3", "schedule_conf: FIX_RATE needs a whole number of seconds (e.g. 30), not '1e3'"),
        ("\u0663", "schedule_conf: FIX_RATE needs a whole number of seconds (e.g. 30), not '\u0663'"),
    ],
)
def test_fix_rate_refuses_anything_but_whole_seconds(conf: str, message: str) -> None:
    error = refusal("FIX_RATE", conf, "UTC")
    assert (error.field, str(error)) == ("schedule_conf", message)


# --- NONE ------------------------------------------------------------------------------------


@pytest.mark.parametrize("conf", ["", "   "])
def test_none_never_fires(conf: str) -> None:
    validate_schedule(ScheduleType.NONE, conf, "UTC")
    assert next_fire_at_ms("NONE", conf, "UTC", T0) is None
    assert preview_fire_times("NONE", conf, "UTC", T0) == []


def test_none_refuses_a_conf() -> None:
    error = refusal("NONE", "0 * * * *", "UTC")
    assert (error.field, str(error)) == ("schedule_conf", "schedule_conf: must be empty for schedule type NONE, not '0 * * * *'")


# --- CRON --------------------------------------------------------------------------------------


def test_cron_validates_and_previews_five_fires_by_default() -> None:
    validate_schedule("CRON", "0 0 12 ? * MON-FRI", "Europe/Berlin")
    assert fires("0 */6 * * *", "UTC", "2026-01-05T10:00:00+00:00") == [
        "2026-01-05T12:00:00+00:00", "2026-01-05T18:00:00+00:00", "2026-01-06T00:00:00+00:00",
        "2026-01-06T06:00:00+00:00", "2026-01-06T12:00:00+00:00",
    ]


def test_cron_surrounding_whitespace_is_ignored() -> None:
    validate_schedule("CRON", "  0 12 * *\t*  ", "UTC")
    assert next_fire_at_ms("CRON", " 0 12 * * * ", "UTC", T0) == iso_to_ms("2026-01-05T12:00:00+00:00")


def test_preview_stops_when_the_schedule_ends() -> None:
    assert fires("0 0 0 1 1 ? 2027,2028", "UTC", "2026-06-01T00:00:00+00:00", 5) == [
        "2027-01-01T00:00:00+00:00", "2028-01-01T00:00:00+00:00",
    ]


def test_preview_count_bounds() -> None:
    assert preview_fire_times("CRON", "* * * * *", "UTC", T0, 0) == []
    assert len(preview_fire_times("CRON", "* * * * * ?", "UTC", T0, 1000)) == 1000
    with pytest.raises(ValueError, match="count 1001 is out of range 0-1000"):
        preview_fire_times("CRON", "* * * * *", "UTC", T0, 1001)
    with pytest.raises(ValueError, match="count -1 is out of range 0-1000"):
        preview_fire_times("CRON", "* * * * *", "UTC", T0, -1)


def test_cron_whose_years_have_passed_never_fires_again() -> None:
    assert next_fire_at_ms("CRON", "0 0 0 ? * * 2001", "UTC", T0) is None
    error = refusal("CRON", "0 0 0 ? * * 2001", "UTC")
    assert (error.field, str(error)) == (
        "schedule_conf", "schedule_conf: '0 0 0 ? * * 2001' never fires again: all its dates are past"
    )


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ("", "schedule_conf: a cron expression is required for schedule type CRON"),
        ("   ", "schedule_conf: a cron expression is required for schedule type CRON"),
        ("0 0 32 * *", "schedule_conf: day-of-month 32 is out of range 1-31 in '0 0 32 * *'"),
        ("0 0 30 2 *", "schedule_conf: '0 0 30 2 *' never fires: no date matches its day-of-month, month and day-of-week fields"),
        ("0 " * 128, "schedule_conf: is 256 characters long; at most 255 fit"),
    ],
)
def test_cron_refusals_name_the_field(conf: str, message: str) -> None:
    error = refusal("CRON", conf, "UTC")
    assert (error.field, str(error)) == ("schedule_conf", message)


# --- schedule type and time zone ------------------------------------------------------------


@pytest.mark.parametrize("value", ["FIX_DELAY", "cron", "", None])
def test_unknown_schedule_type(value: object) -> None:
    error = refusal(value, "", "UTC")
    assert (error.field, str(error)) == ("schedule_type", f"schedule_type: {value!r} is not one of NONE, CRON, FIX_RATE")


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "US/Eastern"])
def test_iana_zones_are_accepted(timezone: str) -> None:
    validate_schedule("CRON", "0 0 * * *", timezone)


@pytest.mark.parametrize(
    ("timezone", "message"),
    [
        ("Mars/Olympus_Mons", "timezone: 'Mars/Olympus_Mons' is not an IANA time zone name (e.g. UTC, Europe/Berlin)"),
        ("europe/berlin", "timezone: 'europe/berlin' is not an IANA time zone name (e.g. UTC, Europe/Berlin)"),
        ("localtime", "timezone: 'localtime' is not an IANA time zone name (e.g. UTC, Europe/Berlin)"),
        ("../../etc/passwd", "timezone: '../../etc/passwd' is not an IANA time zone name (e.g. UTC, Europe/Berlin)"),
        ("+02:00", "timezone: '+02:00' is not an IANA time zone name (e.g. UTC, Europe/Berlin)"),
        ("", "timezone: a time zone is required (an IANA name such as UTC or Europe/Berlin)"),
    ],
)
def test_unknown_time_zones_are_refused(timezone: str, message: str) -> None:
    for schedule_type, conf in (("CRON", "0 0 * * *"), ("FIX_RATE", "60"), ("NONE", "")):
        error = refusal(schedule_type, conf, timezone)
        assert (error.field, str(error)) == ("timezone", message)


def test_next_fire_and_preview_refuse_bad_input_too() -> None:
    with pytest.raises(ScheduleError, match="^schedule_conf: minute 60 is out of range 0-59 in '60 \\* \\* \\* \\*'$"):
        next_fire_at_ms("CRON", "60 * * * *", "UTC", T0)
    with pytest.raises(ScheduleError, match="^timezone: "):
        preview_fire_times("CRON", "* * * * *", "Nowhere/Town", T0)


def test_schedule_error_is_a_one_line_shardcron_error() -> None:
    error = refusal("CRON", "0 0 0 ? * MON 1969", "UTC")
    assert isinstance(error, ShardcronError)
    assert error.field == "schedule_conf"
    assert "\n" not in str(error)
    assert str(error) == "schedule_conf: year 1969 is out of range 1970-2099 in '0 0 0 ? * MON 1969'"
