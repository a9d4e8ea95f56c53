"""The callback spool: finished runs' results on disk until an admin accepted them.

Results are appended, one JSON line each, to a segment file and made durable with fdatasync
BEFORE any of them is first sent. Runs that finish at the same moment are appended together
(the caller batches them: group commit), so a burst costs one write and one sync. Once
`append()` returns, neither an unreachable admin nor `kill -9` nor a power cut loses those
results. A segment takes results until it holds `SEGMENT_MAX_RESULTS` (or until the executor
has nothing left to send); it is deleted once an admin answered code 200 for every result in it. Replay
after a crash re-sends the results of the segments still present, some perhaps accepted
already, which the admin ignores. A line that cannot be read back is copied to `corrupt/` and
logged, never silently dropped; a torn last line (a write that never returned) is skipped.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

from shardcron.core.errors import ShardcronError
from shardcron.core.protocol import CallbackParam, ProtocolError

log = logging.getLogger("shardcron.executor.spool")

SUFFIX = ".spool"
LOCK_FILE = ".lock"
#: Results per segment file before a new one is started.
SEGMENT_MAX_RESULTS = 1000


class SpoolError(ShardcronError):
    """The spool folder cannot be used (missing rights, disk full)."""


@dataclass
class _Segment:
    name: str
    fd: int | None  # open while results are appended to it
    appended: int = 0
    unaccepted: int = 0


class CallbackSpool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._segments: dict[str, _Segment] = {}
        self._active: _Segment | None = None
        self._lock_fd: int | None = None

    def prepare(self) -> None:
        """Create the folder and take it for this process (at start, so a bad path or a second
        executor on the same folder stops the start with a clear error). Two processes sharing a
        spool would replay, and then delete, each other's segments."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock_fd = os.open(self.root / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise SpoolError(f"callback spool {self.root} is not usable: {exc.strerror}") from None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(lock_fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(lock_fd)
            raise SpoolError(f"callback spool {self.root} is in use by another executor process (pid {holder}); give each executor its own spool_dir") from None
        os.ftruncate(lock_fd, 0)
        os.pwrite(lock_fd, str(os.getpid()).encode(), 0)
        self._lock_fd = lock_fd  # held (and the folder ours) until close() or the process ends

    # ------------------------------------------------------------------ writing

    def append(self, lines: list[bytes]) -> str:
        """Make these results (each one JSON line, no newline) durable; returns their segment.
        Not to be called concurrently (the callback sender's group commit serialises it).
        Raises SpoolError when the disk refuses."""
        with self._lock:
            try:
                segment = self._writable_segment()
            except OSError as exc:
                raise SpoolError(f"callback spool {self.root}: cannot start a segment: {exc.strerror}") from None
            # Counted before the write, so acceptance of earlier results cannot delete it now.
            segment.appended += len(lines)
            segment.unaccepted += len(lines)
            fd = segment.fd
        assert fd is not None
        try:
            data = b"\n".join(lines) + b"\n"
            written = os.write(fd, data)
            while written < len(data):
                data = data[written:]
                written = os.write(fd, data)
            os.fdatasync(fd)
        except OSError as exc:
            with self._lock:
                self._retire(segment)  # a failed append leaves the file in doubt: no more appends to it
            raise SpoolError(f"callback spool {self.root / segment.name}: {len(lines)} result(s) not written: {exc.strerror}") from None
        return segment.name

    def _writable_segment(self) -> _Segment:
        active = self._active
        if active is not None and active.appended < SEGMENT_MAX_RESULTS:
            return active
        if active is not None:
            self._retire(active)
        name = f"{uuid.uuid4().hex}{SUFFIX}"
        fd = os.open(self.root / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        self._fsync_dir()  # the new file's name must survive a crash too
        segment = self._segments[name] = _Segment(name, fd)
        self._active = segment
        return segment

    def _retire(self, segment: _Segment) -> None:
        """Under the lock: take no more results into `segment`; delete it if nothing is pending."""
        if self._active is segment:
            self._active = None
        if segment.fd is not None:
            os.close(segment.fd)
            segment.fd = None
        if segment.unaccepted == 0:
            self._delete(segment)

    def accepted(self, counts: dict[str, int]) -> None:
        """An admin accepted `counts[segment]` results of each segment. A full or retired segment
        goes once all of its results were accepted; the one still taking results stays (see
        `tidy`), so a busy executor does not create a file per batch."""
        with self._lock:
            for name, count in counts.items():
                segment = self._segments.get(name)
                if segment is None:
                    continue
                segment.unaccepted -= count
                if segment.unaccepted <= 0 and segment is not self._active:
                    self._retire(segment)

    def tidy(self) -> None:
        """Nothing waits to be sent: retire the active segment if all of it was accepted, so
        an idle executor leaves no accepted results behind to replay."""
        with self._lock:
            if self._active is not None and self._active.unaccepted <= 0:
                self._retire(self._active)

    def _delete(self, segment: _Segment) -> None:
        self._segments.pop(segment.name, None)
        try:
            # If this unlink is lost (crash, power cut) the results are sent again later, which
            # the admin ignores, so the folder is not fsync'd here.
            (self.root / segment.name).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("accepted spool segment not removable", extra={"segment": segment.name, "error": exc.strerror})

    def close(self) -> None:
        with self._lock:
            if self._active is not None:
                self._retire(self._active)
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the folder
                self._lock_fd = None

    # ------------------------------------------------------------------ reading back

    def load(self) -> list[tuple[str, list[CallbackParam]]]:
        """Every segment left by an earlier process, with its results, for replay at start."""
        for path in self.root.glob(".*.tmp"):
            path.unlink(missing_ok=True)
        segments = self._read_all(report=True)
        with self._lock:
            for name, results in segments:
                self._segments[name] = _Segment(name, None, len(results), len(results))
        for name, results in segments:
            if not results:
                with self._lock:
                    self._retire(self._segments[name])
        return [(name, results) for name, results in segments if results]

    def spooled_log_ids(self) -> list[int]:
        """The log ids in the spool right now (for operators and tests)."""
        return sorted(r.log_id for _, results in self._read_all(report=False) for r in results)

    def _read_all(self, *, report: bool) -> list[tuple[str, list[CallbackParam]]]:
        segments = []
        for path in sorted(self.root.glob(f"*{SUFFIX}")):
            try:
                raw = path.read_bytes()
            except FileNotFoundError:
                continue  # accepted and removed while we listed
            results, bad = _parse_segment(raw)
            if bad and report:
                self._set_aside(path, bad)
            segments.append((path.name, results))
        return segments

    def _set_aside(self, path: Path, bad: list[tuple[int, bytes, str]]) -> None:
        target = self.root / "corrupt" / f"{path.name}.bad"
        try:
            target.parent.mkdir(exist_ok=True)
            with open(target, "ab") as fh:
                for _, line, _ in bad:
                    fh.write(line + b"\n")
        except OSError:
            pass
        for number, _, reason in bad:
            log.error("unreadable spooled result set aside", extra={"segment": path.name, "line": number, "moved_to": str(target), "error": reason})

    def _fsync_dir(self) -> None:
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _parse_segment(raw: bytes) -> tuple[list[CallbackParam], list[tuple[int, bytes, str]]]:
    """Results of a segment, and its unreadable lines (number, text, reason)."""
    lines = raw.split(b"\n")
    torn_tail = lines.pop()  # after the last newline: empty, or a write that never completed
    del torn_tail
    results: list[CallbackParam] = []
    bad: list[tuple[int, bytes, str]] = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            results.append(CallbackParam.from_wire(json.loads(line)))
        except (ValueError, ProtocolError) as exc:
            bad.append((number, line, str(exc)))
    return results, bad
