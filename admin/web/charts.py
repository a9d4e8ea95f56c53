"""The dashboard's per-day chart of succeeded, failed and outcome-unknown runs, laid out here and drawn as inline SVG by the
template (no chart library, no script: it renders with JavaScript off and under a strict CSP)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import gettext as _

WIDTH = 720
HEIGHT = 220
LEFT = 44  # room for the y-axis labels
BOTTOM = 24  # room for the day labels
TOP = 10
#: Horizontal grid lines above the zero line.
TICKS = 4


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    success_y: float
    success_h: float
    failed_y: float
    failed_h: float
    unknown_y: float
    unknown_h: float
    running_y: float
    running_h: float
    label: str
    show_label: bool
    title: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    plot_bottom: float
    bars: list[Bar]
    ticks: list[tuple[float, int]]
    total_success: int
    total_failed: int
    total_unknown: int
    total_running: int


def _nice_step(value: int) -> int:
    """A round step (1, 2 or 5 x 10^k) such that four steps reach at least `value`."""
    need = max(1, -(-value // TICKS))
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= need:
                return step * magnitude
        magnitude *= 10


def daily_bars(days: Sequence) -> Chart:
    """Stacked bars (success at the bottom, then failed, outcome unknown, running on top), one per day,
    oldest first."""
    plot_h = HEIGHT - TOP - BOTTOM
    plot_w = WIDTH - LEFT - 8
    step = _nice_step(max((d.success + d.failed + d.unknown + d.running for d in days), default=0))
    top = step * TICKS
    slot = plot_w / max(len(days), 1)
    width = max(slot * 0.7, 1.0)
    every = 1 if len(days) <= 10 else 5 if len(days) <= 45 else 10
    bars = []
    for i, day in enumerate(days):
        success_h = plot_h * day.success / top
        failed_h = plot_h * day.failed / top
        unknown_h = plot_h * day.unknown / top
        running_h = plot_h * day.running / top
        base = TOP + plot_h
        if day.unknown:
            title = _("%(day)s: %(ok)s succeeded, %(failed)s failed, %(unknown)s outcome unknown", day=day.day.isoformat(), ok=day.success, failed=day.failed, unknown=day.unknown)
        else:
            title = _("%(day)s: %(ok)s succeeded, %(failed)s failed", day=day.day.isoformat(), ok=day.success, failed=day.failed)
        if day.running:
            title += ", " + _("%(num)s running", num=day.running)
        bars.append(
            Bar(
                x=round(LEFT + i * slot + (slot - width) / 2, 2),
                width=round(width, 2),
                success_y=round(base - success_h, 2),
                success_h=round(success_h, 2),
                failed_y=round(base - success_h - failed_h, 2),
                failed_h=round(failed_h, 2),
                unknown_y=round(base - success_h - failed_h - unknown_h, 2),
                unknown_h=round(unknown_h, 2),
                running_y=round(base - success_h - failed_h - unknown_h - running_h, 2),
                running_h=round(running_h, 2),
                label=day.day.strftime("%m-%d"),
                show_label=(len(days) - 1 - i) % every == 0,
                title=title,
            )
        )
    ticks = [(round(TOP + plot_h - plot_h * k / TICKS, 2), step * k) for k in range(TICKS + 1)]
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        left=LEFT,
        plot_bottom=TOP + plot_h,
        bars=bars,
        ticks=ticks,
        total_success=sum(d.success for d in days),
        total_failed=sum(d.failed for d in days),
        total_unknown=sum(d.unknown for d in days),
        total_running=sum(d.running for d in days),
    )
