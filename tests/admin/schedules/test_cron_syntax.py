"""Refused cron expressions: each message names the field and the bad part, on one line."""

from __future__ import annotations

import pytest

from shardcron.admin.schedules.cron import CronError, parse_cron
from shardcron.admin.schedules.schedule import ScheduleError, validate_schedule

REFUSED = [
    # field counts
    ("* * * *", "'* * * *' has 4 fields; expected 5 (minute hour day-of-month month day-of-week) "
     "or, Quartz style, 6 or 7 (second minute hour day-of-month month day-of-week [year])"),
    ("0 0 0 1 1 ? 2030 x", "'0 0 0 1 1 ? 2030 x' has 8 fields; expected 5 (minute hour day-of-month month day-of-week) "
     "or, Quartz style, 6 or 7 (second minute hour day-of-month month day-of-week [year])"),
    ("@reboot", "'@reboot' has 1 field; expected 5 (minute hour day-of-month month day-of-week) "
     "or, Quartz style, 6 or 7 (second minute hour day-of-month month day-of-week [year])"),
    # ranges of each field
    ("60 * * * * ?", "second 60 is out of range 0-59 in '60 * * * * ?'"),
    ("60 * * * *", "minute 60 is out of range 0-59 in '60 * * * *'"),
    ("0 24 * * *", "hour 24 is out of range 0-23 in '0 24 * * *'"),
    ("0 0 0 * *", "day-of-month 0 is out of range 1-31 in '0 0 0 * *'"),
    ("0 0 32 * *", "day-of-month 32 is out of range 1-31 in '0 0 32 * *'"),
    ("0 0 1 13 *", "month 13 is out of range 1-12 in '0 0 1 13 *'"),
    ("0 0 * * 8", "day-of-week 8 is out of range 0-7 (0 and 7 = SUN) in '0 0 * * 8'"),
    ("0 0 0 ? * 0", "day-of-week 0 is out of range 1-7 (Quartz numbering: 1 = SUN ... 7 = SAT) in '0 0 0 ? * 0'"),
    ("0 0 0 ? * 8", "day-of-week 8 is out of range 1-7 (Quartz numbering: 1 = SUN ... 7 = SAT) in '0 0 0 ? * 8'"),
    ("0 0 0 1 1 ? 1969", "year 1969 is out of range 1970-2099 in '0 0 0 1 1 ? 1969'"),
    ("0 0 0 1 1 ? 2100", "year 2100 is out of range 1970-2099 in '0 0 0 1 1 ? 2100'"),
    # values and names
    ("0 0 1 JANN *", "month 'JANN' is not a number 1-12 or a name JAN-DEC in '0 0 1 JANN *'"),
    ("0 0 * * FUN", "day-of-week 'FUN' is not a number 0-7 or a name SUN-SAT in '0 0 * * FUN'"),
    ("0 0 MON * *", "day-of-month 'MON' is not a number 1-31 in '0 0 MON * *'"),
    ("a * * * *", "minute 'a' is not a number 0-59 in 'a * * * *'"),
    ("\u00b2 * * * *", "minute '\u00b2' is not a number 0-59 in '\u00b2 * * * *'"),
    ("-5 * * * *", "minute range '-5' needs a start and an end (e.g. 1-5) in '-5 * * * *'"),
    ("5- * * * *", "minute range '5-' needs a start and an end (e.g. 1-5) in '5- * * * *'"),
    ("1,,2 * * * *", "minute has an empty list item (a comma too many) in '1,,2 * * * *'"),
    ("1, * * * *", "minute has an empty list item (a comma too many) in '1, * * * *'"),
    # steps
    ("*/0 * * * *", "minute step 0 in '*/0' is out of range 1-60 in '*/0 * * * *'"),
    ("*/61 * * * *", "minute step 61 in '*/61' is out of range 1-60 in '*/61 * * * *'"),
    ("*/x * * * *", "minute step 'x' in '*/x' is not a whole number in '*/x * * * *'"),
    ("0 */ * * *", "hour step '' in '*/' is not a whole number in '0 */ * * *'"),
    ("0 0 0 1 1 ? 2030-2020", "year range '2030-2020' runs backwards in '0 0 0 1 1 ? 2030-2020'"),
    # ? and the day specials
    ("? * * * *", "minute '?': '?' is only allowed in day-of-month and day-of-week in '? * * * *'"),
    ("0 0 0 1 1 ? ?", "year '?': '?' is only allowed in day-of-month and day-of-week in '0 0 0 1 1 ? ?'"),
    ("0 0 1,? * *", "day-of-month '?' must stand alone, not in '1,?' in '0 0 1,? * *'"),
    ("0 0 L-31 * *", "day-of-month offset 'L-31' is out of range L-0 to L-30 in '0 0 L-31 * *'"),
    ("0 0 1-5W * *", "day-of-month '1-5W' is not a valid use of L or W (use L, L-3, LW or 15W, without ranges or steps) "
     "in '0 0 1-5W * *'"),
    ("0 0 32W * *", "day-of-month 32 is out of range 1-31 in '0 0 32W * *'"),
    ("0 0 * * 1-5L", "day-of-week '1-5L' is not a valid use of L or # (use 5L, FRIL or 6#3, without ranges or steps) "
     "in '0 0 * * 1-5L'"),
    ("0 0 0 ? * 6#6", "day-of-week '6#6': the week number after # must be 1-5 in '0 0 0 ? * 6#6'"),
    ("0 0 0 ? * 6#0", "day-of-week '6#0': the week number after # must be 1-5 in '0 0 0 ? * 6#0'"),
    ("0 0 0 ? * 9#2", "day-of-week 9 is out of range 1-7 (Quartz numbering: 1 = SUN ... 7 = SAT) in '0 0 0 ? * 9#2'"),
    # Quartz: one day field must be left open
    ("0 0 12 1 * MON", "day-of-month '1' and day-of-week 'MON' are both restricted "
     "(6 and 7 fields, Quartz style, need '?' in one of them) in '0 0 12 1 * MON'"),
    ("0 0 12 */2 * 2-6", "day-of-month '*/2' and day-of-week '2-6' are both restricted "
     "(6 and 7 fields, Quartz style, need '?' in one of them) in '0 0 12 */2 * 2-6'"),
    # never fires
    ("0 0 30 2 *", "'0 0 30 2 *' never fires: no date matches its day-of-month, month and day-of-week fields"),
    ("0 0 31 4,6,9,11 *", "'0 0 31 4,6,9,11 *' never fires: no date matches its day-of-month, month and day-of-week fields"),
    ("0 0 0 30 FEB ? *", "'0 0 0 30 FEB ? *' never fires: no date matches its day-of-month, month and day-of-week fields"),
    ("0 0 0 29 2 ? 2097", "'0 0 0 29 2 ? 2097' never fires: no date matches its day-of-month, month, day-of-week "
     "and year fields"),
    ("0 0 0 ? 2 2#5 2026-2030", "'0 0 0 ? 2 2#5 2026-2030' never fires: no date matches its day-of-month, month, "
     "day-of-week and year fields"),
]


@pytest.mark.parametrize(("expression", "message"), REFUSED)
def test_refused_expressions(expression: str, message: str) -> None:
    with pytest.raises(CronError) as caught:
        parse_cron(expression)
    assert str(caught.value) == message
    # the schedule interface says the same, prefixed with the field
    with pytest.raises(ScheduleError) as through_schedule:
        validate_schedule("CRON", expression, "UTC")
    assert (through_schedule.value.field, str(through_schedule.value)) == ("schedule_conf", f"schedule_conf: {message}")


@pytest.mark.parametrize(
    "expression",
    [
        "0 0 29 2 *",  # leap days exist
        "0 0 0 29 2 ? 2028",
        "0 0 0 ? 2 2#5 2040-2050",  # Feb 2044 has five Mondays (a leap year starting on a Monday)
        "0 0 0 L-30 1 ?",
        "0 0 0 ? * L",
        "0 0 1-31/2 1 1",
        "0 0 0 1 1 ? 2099",
        "0 0 * * 0-7",
    ],
)
def test_unusual_but_valid_expressions(expression: str) -> None:
    validate_schedule("CRON", expression, "UTC")
