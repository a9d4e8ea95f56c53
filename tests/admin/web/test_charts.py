"""The dashboard chart's layout: round axis steps, stacked bars in proportion, labels."""

from __future__ import annotations

import datetime as dt

from shardcron.admin.services.dashboard import DayCounts
from shardcron.admin.web.charts import HEIGHT, TOP, BOTTOM, daily_bars


def _days(counts: list[tuple[int, int]]) -> list[DayCounts]:
    start = dt.date(2026, 1, 1)
    return [DayCounts(start + dt.timedelta(days=i), ok, bad, 0) for i, (ok, bad) in enumerate(counts)]


def test_axis_steps_are_round_and_reach_the_tallest_day() -> None:
    assert [v for _, v in daily_bars(_days([(0, 0)] * 7)).ticks] == [0, 1, 2, 3, 4]
    assert [v for _, v in daily_bars(_days([(1, 0)])).ticks] == [0, 1, 2, 3, 4]
    assert [v for _, v in daily_bars(_days([(30, 7)])).ticks] == [0, 10, 20, 30, 40]
    assert [v for _, v in daily_bars(_days([(1234, 0)])).ticks] == [0, 500, 1000, 1500, 2000]


def test_bars_stack_failures_on_successes_in_proportion() -> None:
    chart = daily_bars(_days([(30, 10), (0, 0), (10, 0)]))
    plot_h = HEIGHT - TOP - BOTTOM
    first, empty, third = chart.bars
    assert first.success_h == plot_h * 30 / 40 and first.failed_h == plot_h * 10 / 40
    assert first.failed_y + first.failed_h == first.success_y  # failed sits right on top
    assert first.success_y + first.success_h == chart.plot_bottom
    assert empty.success_h == empty.failed_h == 0
    assert third.success_h == plot_h / 4
    assert (chart.total_success, chart.total_failed) == (40, 10)
    assert first.title == "2026-01-01: 30 succeeded, 10 failed" and first.label == "01-01"


def test_thirty_days_label_every_fifth_day_ending_today() -> None:
    chart = daily_bars(_days([(1, 0)] * 30))
    labelled = [bar.label for bar in chart.bars if bar.show_label]
    assert len(labelled) == 6 and labelled[-1] == "01-30"


def test_unknown_runs_stack_on_top_and_count_toward_the_axis() -> None:
    days = [DayCounts(dt.date(2026, 1, 1), 20, 10, 0, 10), DayCounts(dt.date(2026, 1, 2), 5, 0, 0, 0)]
    chart = daily_bars(days)
    plot_h = HEIGHT - TOP - BOTTOM
    first, second = chart.bars
    assert [v for _, v in chart.ticks][-1] == 40  # 20 + 10 + 10 reach the top
    assert first.unknown_h == plot_h * 10 / 40 and first.unknown_y + first.unknown_h == first.failed_y
    assert second.unknown_h == 0
    assert (chart.total_success, chart.total_failed, chart.total_unknown) == (25, 10, 10)
    assert first.title == "2026-01-01: 20 succeeded, 10 failed, 10 outcome unknown"
    assert second.title == "2026-01-02: 5 succeeded, 0 failed"


def test_running_runs_stack_on_top_and_ninety_days_label_every_tenth() -> None:
    days = [DayCounts(dt.date(2026, 1, 1), 10, 10, 20, 0)]
    chart = daily_bars(days)
    plot_h = HEIGHT - TOP - BOTTOM
    bar = chart.bars[0]
    assert [v for _, v in chart.ticks][-1] == 40 and chart.total_running == 20
    assert bar.running_h == plot_h * 20 / 40 and bar.running_y + bar.running_h == bar.unknown_y == bar.failed_y
    assert bar.title == "2026-01-01: 10 succeeded, 10 failed, 20 running"
    long = daily_bars(_days([(1, 0)] * 90))
    assert len([b for b in long.bars if b.show_label]) == 9
