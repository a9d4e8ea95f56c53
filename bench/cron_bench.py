"""Next-fire computations per second: shardcron's schedule math next to croniter, same run.

    python bench/cron_bench.py [--seconds 1.0]

For a few typical expressions it prints how many `next_fire_at_ms` calls per second shardcron
answers (parsed expressions are cached, as in the scheduler) and how many croniter answers for
the same expression and start times, in two ways: reusing one croniter object per expression
(`set_current` + `get_next`, its fastest use) and building one per call (how it is usually
called). Start instants are spread over a year so no answer is a repeat of the one before.
The last column translates shardcron's rate into the share of one core that 10,000 jobs
firing once a minute (167 computations a second) would cost.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import datetime, UTC
from pathlib import Path
from zoneinfo import ZoneInfo

from croniter import croniter

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shardcron.admin.schedules.cron import parse_cron  # noqa: E402
from shardcron.admin.schedules.schedule import next_fire_at_ms  # noqa: E402

#: (label, shardcron expression, the same schedule in croniter's syntax, time zone)
CASES = [
    ("every 5 min", "*/5 * * * *", "*/5 * * * *", "UTC"),
    ("weekdays 12:00", "0 0 12 ? * MON-FRI", "0 12 * * MON-FRI", "UTC"),
    ("every 15 s", "*/15 * * * * ?", "* * * * * */15", "UTC"),
    ("daily 02:30 Berlin", "30 2 * * *", "30 2 * * *", "Europe/Berlin"),
    ("1st of month", "0 0 1 * *", "0 0 1 * *", "UTC"),
    ("last day 23:00", "0 0 23 L * ?", "0 23 L * *", "UTC"),
    ("3rd Friday NY", "0 0 9 ? * 6#3", "0 9 * * 5#3", "America/New_York"),
]
JOBS_PER_MINUTE = 10_000
STARTS = 4096
FIRST_START_S = 1_767_225_600  # 2026-01-01T00:00:00Z


def rate(work: Callable[[int], object], seconds: float) -> float:
    """Calls per second of `work(i)` over about `seconds`."""
    calls, began = 0, time.perf_counter()
    while True:
        for i in range(256):
            work(calls + i)
        calls += 256
        elapsed = time.perf_counter() - began
        if elapsed >= seconds:
            return calls / elapsed


def measure(expression: str, croniter_expression: str, zone_name: str, seconds: float) -> tuple[float, float, float]:
    # start instants spread over a year, a few hours and seconds apart, none on a fire time
    starts_s = [FIRST_START_S + i * 7_717 + 13 for i in range(STARTS)]
    starts_ms = [s * 1000 for s in starts_s]
    zone = ZoneInfo(zone_name)
    starts_dt = [datetime.fromtimestamp(s, UTC).astimezone(zone) for s in starts_s]
    mask = STARTS - 1

    # the same answers, or the comparison would be meaningless
    for i in range(0, STARTS, 97):
        ours = next_fire_at_ms("CRON", expression, zone_name, starts_ms[i])
        theirs = croniter(croniter_expression, starts_dt[i]).get_next(float)
        assert ours == round(theirs * 1000), (expression, starts_dt[i], ours, theirs)

    ours = rate(lambda i: next_fire_at_ms("CRON", expression, zone_name, starts_ms[i & mask]), seconds)
    reused = croniter(croniter_expression, starts_dt[0])

    def croniter_reused(i: int) -> float:
        reused.set_current(starts_dt[i & mask], force=True)
        return reused.get_next(float)

    theirs_reused = rate(croniter_reused, seconds)
    theirs_fresh = rate(lambda i: croniter(croniter_expression, starts_dt[i & mask]).get_next(float), seconds)
    return ours, theirs_reused, theirs_fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="measuring time per figure")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {args.seconds:g} s per figure; rates in next-fire computations/s")
    header = f"{'schedule':<20} {'shardcron':>10} {'croniter':>10} {'ratio':>6} {'croniter new':>13} {'ratio':>6} {'CPU @10k/min':>13}"
    print(header)
    print("-" * len(header))
    for label, expression, croniter_expression, zone_name in CASES:
        ours, reused, fresh = measure(expression, croniter_expression, zone_name, args.seconds)
        cpu_share = JOBS_PER_MINUTE / 60 / ours
        print(
            f"{label:<20} {ours:>10,.0f} {reused:>10,.0f} {ours / reused:>5.1f}x {fresh:>13,.0f} "
            f"{ours / fresh:>5.1f}x {cpu_share:>12.2%}"
        )
    parse_rate = rate(lambda i: parse_cron.__wrapped__("0 0/5 8-18 ? * MON-FRI"), args.seconds)
    croniter_parse = rate(lambda i: croniter("*/5 8-18 * * MON-FRI"), args.seconds)
    print(f"\nparsing without the cache: shardcron {parse_rate:,.0f}/s, croniter {croniter_parse:,.0f}/s "
          f"(ratio {parse_rate / croniter_parse:.1f}x)")


if __name__ == "__main__":
    main()
