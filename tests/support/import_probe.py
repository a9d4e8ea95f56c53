"""Run an import or the `shardcron` command in a fresh interpreter and report, as it happens,
every import of a module the executor must not carry, with the code that imported it.

    python tests/support/import_probe.py import shardcron.executor
    python tests/support/import_probe.py command executor run --help
    python tests/support/import_probe.py import --forbid=shardcron.executor shardcron.core.protocol

Run as a script (not `-m`), so that nothing of shardcron or of the tests is imported before the
probe is in place. Each report is one line on stderr:

    probe: loaded flask by admin/factory.py:11 <- admin/__init__.py:25 <- admin/cli/__init__.py:34

(the importing frames, innermost first, up to five). A module is reported once, and not when
its package already was (`flask.app` after `flask`). An import loads nothing of the admin at all;
the command may load its entry (`ADMIN_ENTRY`). `--forbid=PACKAGE` forbids one package more.
"""

from __future__ import annotations

import importlib.abc
import sys
from pathlib import Path
from types import FrameType

#: Packages of the admin's web stack and ORM; the executor's paths load none of them.
FORBIDDEN_PACKAGES = ("flask", "jinja2", "werkzeug", "waitress", "sqlalchemy.orm")
#: The `shardcron` command's thin entry: the only modules of the admin the executor may load.
ADMIN_ENTRY = ("shardcron.admin", "shardcron.admin.cli")
REPORT_PREFIX = "probe: loaded "
FRAMES_SHOWN = 5


def is_forbidden(name: str, entry_allowed: bool = True, also: tuple[str, ...] = ()) -> bool:
    if name == "shardcron.admin" or name.startswith("shardcron.admin."):
        return not (entry_allowed and name in ADMIN_ENTRY)
    return any(name == package or name.startswith(package + ".") for package in (*FORBIDDEN_PACKAGES, *also))


def _where(filename: str) -> str:
    """A short name for a source file: the repository's relative path, or from site-packages."""
    path = Path(filename)
    for root in (Path(__file__).resolve().parents[2], *(Path(p) for p in sys.path if p.endswith("site-packages"))):
        try:
            return str(path.resolve().relative_to(root))
        except ValueError:
            continue
    return filename


class ForbiddenImportReporter(importlib.abc.MetaPathFinder):
    """First on `sys.meta_path`: reports forbidden imports, then lets the real finders find them."""

    def __init__(self, entry_allowed: bool, also: tuple[str, ...]) -> None:
        self.reported: set[str] = set()
        self.entry_allowed = entry_allowed
        self.also = also

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> None:
        if not is_forbidden(fullname, self.entry_allowed, self.also) or any(fullname.startswith(done + ".") for done in self.reported) or fullname in self.reported:
            return
        self.reported.add(fullname)
        frames: list[str] = []
        frame: FrameType | None = sys._getframe(1)
        while frame is not None and len(frames) < FRAMES_SHOWN:
            filename = frame.f_code.co_filename
            if not filename.startswith("<frozen") and filename != __file__:
                frames.append(f"{_where(filename)}:{frame.f_lineno}")
            frame = frame.f_back
        print(f"{REPORT_PREFIX}{fullname} by {' <- '.join(frames) or '?'}", file=sys.stderr, flush=True)


def parse_reports(stderr: str) -> dict[str, str]:
    """The probe's lines in a process's stderr: module -> who imported it."""
    found = {}
    for line in stderr.splitlines():
        if line.startswith(REPORT_PREFIX):
            module, _, who = line[len(REPORT_PREFIX):].partition(" by ")
            found[module] = who
    return found


def main() -> None:
    mode, *args = sys.argv[1:]
    also = tuple(arg.removeprefix("--forbid=") for arg in args if arg.startswith("--forbid="))
    args = [arg for arg in args if not arg.startswith("--forbid=")]
    sys.meta_path.insert(0, ForbiddenImportReporter(entry_allowed=mode == "command", also=also))
    del sys.path[0]  # this script's folder: its modules must not shadow top-level names
    if mode == "import":
        for name in args:
            __import__(name)
        return
    if mode == "command":  # what the `shardcron` console script does
        from shardcron.admin.cli import main as shardcron_main

        sys.argv = ["shardcron", *args]
        sys.exit(shardcron_main())
    raise SystemExit(f"unknown mode {mode!r}: import MODULE... | command ARGS...")


if __name__ == "__main__":
    main()
