"""CPU used by named processes over a stretch of wall time, read from /proc (Linux).

For load tests on a small shared machine: when fires are late, these figures say whether the
scheduler was slow or simply did not get a CPU.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of `pid` so far (None: no such process, or no /proc)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS_PER_S


def pid_of(command: str) -> int | None:
    """The first process whose command name is `command` (e.g. the database server)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == command:
                    return int(entry.name)
            except OSError:
                continue
    return None


def _machine_ticks() -> tuple[int, int] | None:
    """(busy, total) CPU ticks of the whole machine, all cores."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, IndexError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


@dataclass
class _Mark:
    pid: int
    cpu_s: float
    wall_s: float


class CpuMeter:
    """`begin(label, pid)` and `end(label)` bracket the stretch measured for each process (call
    `end` before the process is killed or stopped); `line()` gives % of one core for each."""

    def __init__(self) -> None:
        self._begun: dict[str, _Mark] = {}
        self._used: dict[str, tuple[float, float]] = {}  # label -> (cpu s, wall s)
        self._machine: tuple[tuple[int, int] | None, tuple[int, int] | None] = (None, None)
        self._load: tuple[float, ...] = ()

    def begin_machine(self) -> None:
        self._machine = (_machine_ticks(), None)

    def end_machine(self) -> None:
        self._machine = (self._machine[0], _machine_ticks())
        self._load = os.getloadavg()

    def begin(self, label: str, pid: int | None) -> None:
        cpu = cpu_seconds(pid) if pid is not None else None
        if pid is not None and cpu is not None:
            self._begun[label] = _Mark(pid, cpu, time.monotonic())

    def end(self, label: str) -> None:
        mark = self._begun.pop(label, None)
        cpu = cpu_seconds(mark.pid) if mark is not None else None
        if mark is not None and cpu is not None:
            used_cpu, used_wall = self._used.get(label, (0.0, 0.0))  # a stalled node: before and after
            self._used[label] = (used_cpu + cpu - mark.cpu_s, used_wall + time.monotonic() - mark.wall_s)

    def percent(self) -> dict[str, float]:
        """% of one core per label, over the stretch each was measured."""
        return {label: 100 * cpu / wall for label, (cpu, wall) in self._used.items() if wall > 0}

    def machine_busy_percent(self) -> float | None:
        """% of all cores busy (every process on the machine, other users' included)."""
        start, end = self._machine
        if start is None or end is None or end[1] == start[1]:
            return None
        return 100 * (end[0] - start[0]) / (end[1] - start[1])

    def line(self) -> str:
        parts = [f"{label} {pct:.0f}" for label, pct in sorted(self.percent().items())]
        busy = self.machine_busy_percent()
        machine = f"; machine {busy:.0f}% busy of {os.cpu_count()} cores" if busy is not None else ""
        load = f", load avg {self._load[0]:.1f}" if self._load else ""
        return f"cpu (% of one core): {', '.join(parts)}{machine}{load}"
