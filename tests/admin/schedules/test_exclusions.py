"""Calendars' excluded dates, pure: instants of a date in the calendar's zone, merged ranges, and
the planned times a CRON or FIX_RATE schedule keeps, misfire rules included."""

from __future__ import annotations

import datetime as dt

from shardcron.admin.enums import MisfireStrategy, ScheduleType, TriggerType
from shardcron.admin.schedules.due_fires import plan_job_fires
from shardcron.admin.schedules.exclusions import DateRange, Exclusions, allowed_after_ms, first_allowed_ms, preview_with_calendars
from shardcron.admin.schedules.schedule import next_fire_at_ms

CRON = ScheduleType.CRON
RATE = ScheduleType.FIX_RATE
H = 3600_000
DAY = 24 * H


def utc_ms(*parts: int) -> int:
    return int(dt.datetime(*parts, tzinfo=dt.UTC).timestamp()) * 1000


def days(zone: str, *ranges: tuple[str, str]) -> Exclusions:
    return Exclusions.of([(zone, [DateRange(dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for a, b in ranges])])


def test_a_date_is_excluded_from_its_midnight_to_the_next_in_the_calendars_zone():
    excl = days("Asia/Tokyo", ("2026-12-25", "2026-12-25"))
    start, end = utc_ms(2026, 12, 24, 15), utc_ms(2026, 12, 25, 15)  # Tokyo is UTC+9
    assert excl.excluded_until_ms(start - 1) is None
    assert excl.excluded_until_ms(start) == end
    assert excl.excluded_until_ms(end - 1) == end
    assert excl.excluded_until_ms(end) is None


def test_overlapping_and_touching_ranges_merge():
    excl = days("UTC", ("2026-12-24", "2026-12-26"), ("2026-12-27", "2026-12-27"), ("2026-12-25", "2026-12-25"), ("2027-01-05", "2027-01-06"))
    assert excl.starts == (utc_ms(2026, 12, 24), utc_ms(2027, 1, 5))
    assert excl.ends == (utc_ms(2026, 12, 28), utc_ms(2027, 1, 7))


def test_a_daily_cron_skips_the_excluded_days_and_fires_the_day_after():
    excl = days("UTC", ("2026-12-24", "2026-12-26"))
    at = next_fire_at_ms(CRON, "0 9 * * *", "UTC", utc_ms(2026, 12, 23, 10))
    assert at == utc_ms(2026, 12, 24, 9)
    assert first_allowed_ms(CRON, "0 9 * * *", "UTC", at, excl) == utc_ms(2026, 12, 27, 9)
    assert allowed_after_ms(CRON, "0 9 * * *", "UTC", utc_ms(2026, 12, 23, 9), excl) == utc_ms(2026, 12, 27, 9)


def test_a_fix_rate_keeps_its_grid_across_an_exclusion():
    excl = days("UTC", ("2026-12-24", "2026-12-24"))
    grid0 = utc_ms(2026, 12, 23, 23, 59, 53)  # a 7 s grid that does not meet midnight
    after = first_allowed_ms(RATE, "7", "UTC", grid0 + 7_000, excl)
    assert after is not None
    assert after >= utc_ms(2026, 12, 25) and after - 7_000 < utc_ms(2026, 12, 25)
    assert (after - grid0) % 7_000 == 0


def test_a_long_freeze_with_a_one_second_rate_is_jumped_not_stepped():
    excl = days("UTC", ("2026-01-01", "2026-12-31"))
    assert first_allowed_ms(RATE, "1", "UTC", utc_ms(2026, 1, 1), excl) == utc_ms(2027, 1, 1)


def test_a_schedule_that_ends_inside_an_exclusion_has_no_allowed_time():
    excl = days("UTC", ("2026-06-01", "2099-12-31"))
    at = next_fire_at_ms(CRON, "0 0 12 * * ? 2026", "UTC", utc_ms(2026, 5, 31, 13))
    assert first_allowed_ms(CRON, "0 0 12 * * ? 2026", "UTC", at, excl) is None


def test_the_fire_plan_skips_excluded_times_and_moves_next_fire_past_them():
    excl = days("UTC", ("2026-12-25", "2026-12-25"))
    now = utc_ms(2026, 12, 24, 23, 59)
    plan = plan_job_fires(CRON, "0 * * * *", "UTC", MisfireStrategy.DO_NOTHING, utc_ms(2026, 12, 25), now, now + 2 * DAY, 5000, excl)
    assert plan.fires[0] == (utc_ms(2026, 12, 26), TriggerType.CRON)
    assert all(at >= utc_ms(2026, 12, 26) for at, _ in plan.fires)
    assert not plan.misfired
    # The same plan without a calendar fires on the 25th.
    plain = plan_job_fires(CRON, "0 * * * *", "UTC", MisfireStrategy.DO_NOTHING, utc_ms(2026, 12, 25), now, now + 2 * DAY, 5000)
    assert plain.fires[0] == (utc_ms(2026, 12, 25), TriggerType.CRON)


def test_a_stored_next_fire_inside_a_new_exclusion_is_not_a_misfire():
    excl = days("UTC", ("2026-12-25", "2026-12-25"))
    now = utc_ms(2026, 12, 25, 18)  # the stored next fire, 09:00 on the 25th, was excluded later
    plan = plan_job_fires(CRON, "0 9 * * *", "UTC", MisfireStrategy.FIRE_ONCE_NOW, utc_ms(2026, 12, 25, 9), now, now + 1000, 5000, excl)
    assert (plan.fires, plan.next_fire_at_ms, plan.misfired) == ([], utc_ms(2026, 12, 26, 9), False)


def test_misfire_rules_apply_to_missed_allowed_times():
    excl = days("UTC", ("2026-12-25", "2026-12-25"))
    now = utc_ms(2026, 12, 24, 18)  # down since 09:00 on the 24th, an allowed time
    once = plan_job_fires(CRON, "0 9 * * *", "UTC", MisfireStrategy.FIRE_ONCE_NOW, utc_ms(2026, 12, 24, 9), now, now + 1000, 5000, excl)
    assert once.misfired and once.fires == [(now, TriggerType.MISFIRE)]
    assert once.next_fire_at_ms == utc_ms(2026, 12, 26, 9)  # the 25th is skipped
    # A misfire noticed on an excluded day fires nothing now.
    later = utc_ms(2026, 12, 25, 18)
    held = plan_job_fires(CRON, "0 9 * * *", "UTC", MisfireStrategy.FIRE_ONCE_NOW, utc_ms(2026, 12, 24, 9), later, later + 1000, 5000, excl)
    assert held.misfired and held.fires == [] and held.next_fire_at_ms == utc_ms(2026, 12, 26, 9)
    # FIX_RATE after a misfire stays on its grid and skips the exclusion.
    rate = plan_job_fires(RATE, "3600", "UTC", MisfireStrategy.DO_NOTHING, utc_ms(2026, 12, 24, 9), later, later + 1000, 5000, excl)
    assert rate.misfired and rate.fires == [] and rate.next_fire_at_ms == utc_ms(2026, 12, 26)


def test_the_preview_lists_skipped_times_with_the_calendar_that_skips_them():
    excl = days("UTC", ("2026-12-25", "2026-12-26"))
    times = preview_with_calendars(CRON, "0 9 * * *", "UTC", utc_ms(2026, 12, 24), 3, [("holidays", excl)])
    assert [(t.at_ms, t.skipped_by) for t in times] == [
        (utc_ms(2026, 12, 24, 9), None),
        (utc_ms(2026, 12, 25, 9), "holidays"),
        (utc_ms(2026, 12, 26, 9), "holidays"),
        (utc_ms(2026, 12, 27, 9), None),
        (utc_ms(2026, 12, 28, 9), None),
    ]


def test_the_preview_lists_at_most_count_skips_then_jumps():
    excl = days("UTC", ("2026-01-01", "2026-12-31"))
    times = preview_with_calendars(RATE, "1", "UTC", utc_ms(2025, 12, 31, 23, 59, 59), 2, [("freeze", excl)])
    assert [(t.at_ms, t.skipped_by) for t in times] == [
        (utc_ms(2026, 1, 1), "freeze"), (utc_ms(2026, 1, 1, 0, 0, 1), "freeze"), (utc_ms(2027, 1, 1), None), (utc_ms(2027, 1, 1, 0, 0, 1), None),
    ]


def test_catch_up_after_downtime_fires_only_the_allowed_missed_times():
    """A daily 09:00 job down from the 23rd to the 27th, with the 25th and 26th excluded: CATCH_UP_ALL
    fires the 23rd, 24th and 27th at their planned times; CATCH_UP_LATEST the latest allowed one."""
    excl = days("UTC", ("2026-12-25", "2026-12-26"))
    next_at, now = utc_ms(2026, 12, 23, 9), utc_ms(2026, 12, 27, 10)
    week_ms = 7 * DAY

    def plan(strategy: MisfireStrategy, now_ms: int = now, window_ms: int = week_ms, max_fires: int = 100):
        return plan_job_fires(CRON, "0 0 9 * * ?", "UTC", strategy, next_at, now_ms, now_ms + 2000, 5000, excl, catchup_window_ms=window_ms, catchup_max_fires=max_fires)

    every = plan(MisfireStrategy.CATCH_UP_ALL)
    assert every.fires == [(utc_ms(2026, 12, d, 9), TriggerType.MISFIRE) for d in (23, 24, 27)]
    assert every.next_fire_at_ms == utc_ms(2026, 12, 28, 9) and every.misfired and not every.beyond_catchup_limit
    limited = plan(MisfireStrategy.CATCH_UP_ALL, max_fires=2)
    assert [at for at, _ in limited.fires] == [utc_ms(2026, 12, 23, 9), utc_ms(2026, 12, 24, 9)] and limited.beyond_catchup_limit
    assert plan(MisfireStrategy.CATCH_UP_LATEST).fires == [(utc_ms(2026, 12, 27, 9), TriggerType.MISFIRE)]
    # On the 26th at 10:00 the latest missed time (the 26th) and the one before are excluded: the 24th.
    on_26th = plan(MisfireStrategy.CATCH_UP_LATEST, now_ms=utc_ms(2026, 12, 26, 10))
    assert on_26th.fires == [(utc_ms(2026, 12, 24, 9), TriggerType.MISFIRE)]
    # A window that holds only excluded missed times catches up nothing.
    assert plan(MisfireStrategy.CATCH_UP_LATEST, now_ms=utc_ms(2026, 12, 26, 10), window_ms=DAY + 2 * H).fires == []
    assert plan(MisfireStrategy.CATCH_UP_ALL, now_ms=utc_ms(2026, 12, 26, 10), window_ms=DAY + 2 * H).fires == []
