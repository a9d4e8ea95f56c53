"""Files only their owner may read (mode 0600): generated secrets, setup codes, SQLite files.

The mode is set when the file is created, never by a chmod afterwards, so there is no moment in
which another local account could open it.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_MODE = stat.S_IRUSR | stat.S_IWUSR  # 0600


def write_once(path: Path, text: str) -> str:
    """Write `text` to a new file at `path` (0600) unless the file exists; return what the file
    holds afterwards. Atomic: the content is written under a temporary name and linked into
    place, so a concurrent reader sees either no file or the whole text, and of two processes
    racing, the first link wins and both return its text."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        os.link(temporary, path)
        return text
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    finally:
        temporary.unlink(missing_ok=True)


def create_empty(path: Path) -> bool:
    """Create an empty 0600 file at `path` unless something is there; True when it was created."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_MODE))
        return True
    except FileExistsError:
        return False
