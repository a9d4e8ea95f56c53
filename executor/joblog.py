"""Run logs: one file per run that logs, `{log_dir}/{yyyy-mm-dd}/{logId}.log`, paged by `/log`.

The date is the run's trigger time (the wire's `logDateTime`) in UTC, so the admin, which sends
the same value with `/log`, always names the same file. Every line starts with its UTC time.
Files are only appended to, one whole line per write, so a reader never sees half a line as a
line. Folders older than the retention are deleted by `cleanup(now_ms)`.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from shardcron.core.clock import Clock, ms_to_datetime

log = logging.getLogger("shardcron.executor.joblog")

#: A `/log` page holds at most this many lines or bytes, so an answer always stays far below the
#: 5 MiB body limit of the protocol; the admin simply asks again from the next line.
LOG_PAGE_MAX_LINES = 5_000
LOG_PAGE_MAX_BYTES = 1024 * 1024

_DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DAY_MS = 86_400_000


_second_cache: tuple[int, str] = (-1, "")


def _format_instant(at_ms: int) -> str:
    """`2026-01-01 00:00:00.123` (UTC); the seconds part is formatted once per second."""
    global _second_cache
    second, text = _second_cache
    if at_ms // 1000 != second:
        second, text = at_ms // 1000, ms_to_datetime(at_ms - at_ms % 1000).strftime("%Y-%m-%d %H:%M:%S.")
        _second_cache = (second, text)  # one tuple assignment: readers see a consistent pair
    return f"{text}{at_ms % 1000:03d}"


@dataclass(frozen=True)
class LogPage:
    """Lines `from_line`..`to_line` (1-based, inclusive; `to_line = from_line - 1` when none)."""

    from_line: int
    to_line: int
    content: str
    at_eof: bool


class RunLogFile:
    """Appends timestamped lines to one run's log file; safe to call from several threads.

    The file is created by the run's first `write`. A line passed to `hold` (the executor's own
    "started" and "result: code 200" lines) gets its time and thread at once but is kept in
    memory, unformatted: it goes to the file just before the next `write`, or at once if the file
    exists already, and it is dropped with a log closed without any `write`. So a run that
    succeeds without logging leaves no file: creating one was most of the CPU such a run cost (a
    new inode and directory entry per run), and `/log` answers such a run with no lines. While
    the run is live, `read_page` serves held lines from memory, numbered as they would be in the
    file.

    A failing disk never fails the run: the first write error is logged and later lines are dropped.
    """

    def __init__(self, day_dir: Path, clock: Clock, log_id: int) -> None:
        self._day_dir = day_dir
        self._clock = clock
        self._log_id = log_id
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._held: list[tuple[int, str, str | Callable[[], str]]] = []  # (at_ms, thread, text)
        self._created = False  # the file was opened (it may have been closed since)
        self._broken = False
        self._closed = False

    @property
    def path(self) -> Path:
        return self._day_dir / f"{int(self._log_id)}.log"

    def write(self, msg: str) -> None:
        """Append a line to the file (creating it), after any held lines."""
        line = _line(self._clock.now_ms(), threading.current_thread().name, msg)
        with self._lock:
            if self._broken or self._closed:
                return
            if self._held:
                line = b"".join(_line(*held) for held in self._held) + line
                self._held.clear()
            self._append(line)

    def hold(self, msg: str | Callable[[], str]) -> None:
        """A line worth keeping only next to others: written with the next `write` (or now if
        the file exists), dropped if the run writes nothing else. `msg` may be a function
        returning the text, called only if the line is ever written or read."""
        held = (self._clock.now_ms(), threading.current_thread().name, msg)
        with self._lock:
            if self._broken or self._closed:
                return
            if self._fd is not None:
                self._append(_line(*held))
            else:
                self._held.append(held)

    def _append(self, line: bytes) -> None:
        """Under the lock."""
        try:
            if self._fd is None:
                self._fd = self._open()
                self._created = True
            # one unbuffered O_APPEND write per call, whole lines: readers see whole lines at once
            written = os.write(self._fd, line)
            while written < len(line):  # only on a nearly full disk or a signal
                line = line[written:]
                written = os.write(self._fd, line)
        except OSError as exc:
            self._broken = True
            log.warning("run log not writable", extra={"log_id": self._log_id, "path": str(self.path), "error": str(exc)})

    def _open(self) -> int:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        path = self.path
        try:
            return os.open(path, flags, 0o644)
        except FileNotFoundError:  # the day's folder does not exist yet (checked only then: hot path)
            path.parent.mkdir(parents=True, exist_ok=True)
            return os.open(path, flags, 0o644)

    def read_page(self, from_line: int) -> LogPage | None:
        """Like `RunLogStore.read_page`, for this live run: held lines from memory while it has
        no file, else the file."""
        with self._lock:
            if not self._created:
                return _page((_line(*held) for held in self._held), from_line) if self._held else None
        return read_page_at(self.path, from_line)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._held.clear()  # nothing was written: the run has no log file
            if self._fd is not None:
                try:
                    os.close(self._fd)
                except OSError:
                    pass
                self._fd = None


def _line(at_ms: int, thread: str, msg: str | Callable[[], str]) -> bytes:
    text = str(msg() if callable(msg) else msg).replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")
    return f"{_format_instant(at_ms)} [{thread}] {text}\n".encode("utf-8", errors="replace")


def read_page_at(path: Path, from_line: int) -> LogPage | None:
    """Complete lines of the file at `path` from `from_line` on, or None when there is no file."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return None
    with fh:
        return _page(fh, from_line)


def _page(lines: Iterator[bytes], from_line: int) -> LogPage:
    collected: list[str] = []
    size = 0
    number = 0
    at_eof = True
    for raw in lines:
        if not raw.endswith(b"\n"):
            break  # a line still being written is not a line yet
        number += 1
        if number < from_line:
            continue
        if len(collected) >= LOG_PAGE_MAX_LINES or (collected and size + len(raw) > LOG_PAGE_MAX_BYTES):
            at_eof = False
            break
        collected.append(raw.decode("utf-8", errors="replace"))
        size += len(raw)
    to_line = from_line + len(collected) - 1
    return LogPage(from_line=from_line, to_line=to_line, content="".join(collected), at_eof=at_eof)


class RunLogStore:
    """Where run logs live, how they are read back page by page, and their retention."""

    def __init__(self, root: Path, clock: Clock, retention_days: int) -> None:
        self.root = root
        self._clock = clock
        self.retention_days = retention_days
        self._day_dirs: dict[int, Path] = {}  # day number -> its folder (formatting dates is slow)

    def _day_dir(self, log_date_time_ms: int) -> Path:
        day_number = log_date_time_ms // DAY_MS
        day_dir = self._day_dirs.get(day_number)
        if day_dir is None:
            day_dir = self.root / ms_to_datetime(day_number * DAY_MS).strftime("%Y-%m-%d")
            if len(self._day_dirs) > 64:  # a handful of days are live at once
                self._day_dirs.clear()
            self._day_dirs[day_number] = day_dir
        return day_dir

    def path_for(self, log_id: int, log_date_time_ms: int) -> Path:
        return self._day_dir(log_date_time_ms) / f"{int(log_id)}.log"

    def open(self, log_id: int, log_date_time_ms: int) -> RunLogFile:
        """A run's log; nothing touches the disk before its first `write`."""
        return RunLogFile(self._day_dir(log_date_time_ms), self._clock, log_id)

    def read_page(self, log_id: int, log_date_time_ms: int, from_line: int) -> LogPage | None:
        """Complete lines from `from_line` on, or None when the run has no log file here."""
        return read_page_at(self.path_for(log_id, log_date_time_ms), from_line)

    def cleanup(self, now_ms: int) -> int:
        """Delete day folders older than the retention; returns how many went. 0 days keeps all."""
        if self.retention_days <= 0 or not self.root.is_dir():
            return 0
        oldest_kept = (ms_to_datetime(now_ms) - timedelta(days=self.retention_days)).strftime("%Y-%m-%d")
        removed = 0
        for entry in sorted(self.root.iterdir()):
            if entry.is_dir() and _DATE_DIR.match(entry.name) and entry.name < oldest_kept:
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
                log.info("run logs removed", extra={"day": entry.name, "retention_days": self.retention_days})
        return removed
