"""The callback spool: finished runs' results on disk until an admin accepted them.

Results are written in segments: one file holding one or more results (JSON lines), written to a
temporary name, fsync'd, renamed into place and the folder fsync'd, all BEFORE any of them is
first sent. Runs that finish at the same moment share one segment (group commit), so a burst
costs one fsync instead of one per run. Once `write()` returns, neither an unreachable admin nor
`kill -9` nor a power cut loses those results. A segment is removed only after an admin answered
code 200 for every result in it. A segment that cannot be read back is moved to `corrupt/` (and
logged), never deleted, so an operator can look at it.
"""

from __future__ import annotations

import json
import logging
import os
import uuid
from pathlib import Path

from .errors import ShardcronError
from .protocol import CallbackParam, ProtocolError

log = logging.getLogger("shardcron.executor.spool")

SUFFIX = ".spool"


class SpoolError(ShardcronError):
    """The spool folder cannot be used (missing rights, disk full)."""


class CallbackSpool:
    def __init__(self, root: Path) -> None:
        self.root = root

    def prepare(self) -> None:
        """Create the folder (at start, so a bad path stops the start with a clear error)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".probe.{os.getpid()}.tmp"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise SpoolError(f"callback spool {self.root} is not usable: {exc.strerror}") from None

    def write(self, results: list[CallbackParam]) -> str:
        """Make `results` durable as one segment; returns its name. Raises SpoolError when the disk refuses."""
        # The first log id leads the name so a listing reads in rough run order; the random
        # part keeps names unique across processes sharing nothing but the folder.
        name = f"{results[0].log_id}-{uuid.uuid4().hex[:12]}{SUFFIX}"
        data = "".join(json.dumps(r.to_wire(), ensure_ascii=False) + "\n" for r in results).encode("utf-8")
        temp = self.root / f".{name}.tmp"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, self.root / name)
            self._fsync_dir()
        except OSError as exc:
            try:
                temp.unlink(missing_ok=True)
            except OSError:
                pass
            ids = ", ".join(str(r.log_id) for r in results[:5]) + (", ..." if len(results) > 5 else "")
            raise SpoolError(f"results of runs {ids} cannot be spooled in {self.root}: {exc.strerror}") from None
        return name

    def remove(self, name: str) -> None:
        """Forget a segment whose results were all accepted. If the unlink is lost (crash, power
        cut) they are sent again later, which the admin ignores, so the folder is not fsync'd."""
        try:
            (self.root / name).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("spooled results not removable", extra={"segment": name, "error": exc.strerror})

    def spooled_log_ids(self) -> list[int]:
        """The log ids in the spool right now (for operators and tests)."""
        return sorted(r.log_id for _, results in self._read_all(quarantine=False) for r in results)

    def load(self) -> list[tuple[str, list[CallbackParam]]]:
        """Every segment with its results, for replay at start; drops unfinished writes."""
        for path in self.root.glob(".*.tmp"):
            # never renamed into place: its write() did not return, nothing was promised
            path.unlink(missing_ok=True)
        return self._read_all(quarantine=True)

    def _read_all(self, *, quarantine: bool) -> list[tuple[str, list[CallbackParam]]]:
        segments = []
        for path in sorted(self.root.glob(f"*{SUFFIX}")):
            try:
                lines = path.read_bytes().splitlines()
                results = [CallbackParam.from_wire(json.loads(line)) for line in lines if line.strip()]
            except FileNotFoundError:
                continue  # accepted and removed while we listed
            except (OSError, ValueError, ProtocolError) as exc:
                if quarantine:
                    self._quarantine(path, str(exc))
                continue
            if results:
                segments.append((path.name, results))
        return segments

    def _quarantine(self, path: Path, reason: str) -> None:
        target = self.root / "corrupt" / path.name
        try:
            target.parent.mkdir(exist_ok=True)
            os.replace(path, target)
        except OSError:
            pass
        log.error("unreadable spooled results set aside", extra={"path": str(path), "moved_to": str(target), "error": reason})

    def _fsync_dir(self) -> None:
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
