"""The callback spool: finished runs' results on disk until an admin accepted them.

One file per result, `{logId}.json`, written to a temporary name, fsync'd, renamed into place and
the folder fsync'd, all BEFORE the result is first sent: once `write()` returns, neither an
unreachable admin nor `kill -9` nor a power cut loses the result. A file is removed only after an
admin answered code 200 for it. A file that cannot be read back is moved to `corrupt/` (and
logged), never deleted, so an operator can look at it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from .errors import ShardcronError
from .protocol import CallbackParam, ProtocolError

log = logging.getLogger("shardcron.executor.spool")

SUFFIX = ".json"


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

    def _path(self, log_id: int) -> Path:
        return self.root / f"{int(log_id)}{SUFFIX}"

    def write(self, result: CallbackParam) -> None:
        """Make `result` durable. Raises SpoolError when the disk refuses."""
        data = json.dumps(result.to_wire(), ensure_ascii=False).encode("utf-8")
        final = self._path(result.log_id)
        temp = self.root / f".{result.log_id}.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(temp, final)
            self._fsync_dir()
        except OSError as exc:
            try:
                temp.unlink(missing_ok=True)
            except OSError:
                pass
            raise SpoolError(f"result of run {result.log_id} cannot be spooled in {self.root}: {exc.strerror}") from None

    def remove(self, log_id: int) -> None:
        """Forget an accepted result. If the unlink is lost (crash, power cut) the result is sent
        again later, which the admin ignores, so the folder is not fsync'd here."""
        try:
            self._path(log_id).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("spooled result not removable", extra={"log_id": log_id, "error": exc.strerror})

    def spooled_log_ids(self) -> list[int]:
        return sorted(int(p.name[: -len(SUFFIX)]) for p in self.root.glob(f"*{SUFFIX}") if p.name[: -len(SUFFIX)].isdigit())

    def load(self) -> list[CallbackParam]:
        """Every spooled result, oldest log id first (for replay at start)."""
        results: list[CallbackParam] = []
        for path in sorted(self.root.iterdir(), key=lambda p: p.name):
            if path.name.startswith(".") and path.name.endswith(".tmp"):
                # never renamed into place: its write() did not return, nothing was promised
                path.unlink(missing_ok=True)
                continue
            if not path.is_file() or not path.name.endswith(SUFFIX):
                continue
            try:
                result = CallbackParam.from_wire(json.loads(path.read_bytes()))
            except (OSError, ValueError, ProtocolError) as exc:
                self._quarantine(path, str(exc))
                continue
            results.append(result)
        results.sort(key=lambda r: r.log_id)
        return results

    def _quarantine(self, path: Path, reason: str) -> None:
        target = self.root / "corrupt" / path.name
        try:
            target.parent.mkdir(exist_ok=True)
            os.replace(path, target)
        except OSError:
            pass
        log.error("unreadable spooled result set aside", extra={"path": str(path), "moved_to": str(target), "error": reason})

    def _fsync_dir(self) -> None:
        fd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
