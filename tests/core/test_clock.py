"""The clock is injected; nothing else in shardcron reads the time directly."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, UTC
from pathlib import Path

import pytest

from shardcron.core.clock import FakeClock, SystemClock, datetime_to_ms, ms_to_datetime

ROOT = Path(__file__).resolve().parents[2]
DIRECT_TIME_READS = re.compile(
    r"\btime\.(time|time_ns|monotonic|monotonic_ns)\(|\bdatetime\.(now|utcnow|today)\(|\bdate\.today\("
)


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(start_ms=1_000)
    assert clock.now_ms() == 1_000
    assert clock.advance(250) == 1_250
    assert clock.advance(s=1.5) == 2_750
    assert clock.monotonic() == pytest.approx(1.75)
    clock.set(10_000)
    assert clock.now_ms() == 10_000
    with pytest.raises(ValueError):
        clock.set(9_999)
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_system_clock_is_utc_epoch_ms() -> None:
    clock = SystemClock()
    now = clock.now_ms()
    reference = datetime_to_ms(datetime.now(UTC))
    assert abs(now - reference) < 5_000
    a = clock.monotonic()
    assert clock.monotonic() >= a


def test_conversions_keep_milliseconds() -> None:
    at = datetime(2026, 3, 29, 1, 30, 0, 123_000, tzinfo=UTC)
    assert ms_to_datetime(datetime_to_ms(at)) == at
    berlin = at.astimezone(timezone(timedelta(hours=2)))
    assert datetime_to_ms(berlin) == datetime_to_ms(at)
    with pytest.raises(ValueError, match="naive"):
        datetime_to_ms(datetime(2026, 1, 1))


def test_no_module_reads_the_time_directly() -> None:
    offenders = []
    for folder in ("admin", "core", "executor"):
        for path in (ROOT / folder).rglob("*.py"):
            if path == ROOT / "core" / "clock.py":
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if DIRECT_TIME_READS.search(line) and "# clock-ok" not in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == [], "read the time through shardcron.core.clock instead:\n" + "\n".join(offenders)
