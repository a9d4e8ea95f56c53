"""A unified diff as rows with the line number each line has before and after the change.

The script versions page shows these rows as a table, so a change reads like the editor
(numbered lines) rather than like raw `@@ -3,2 +3,4 @@` headers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

DiffKind = Literal["file", "hunk", "same", "add", "del", "note"]

_HUNK = re.compile(r"^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@")


@dataclass(frozen=True)
class DiffRow:
    kind: DiffKind
    #: The line's number in the older version (None: the line is only in the newer one).
    old_no: int | None
    #: The line's number in the newer version (None: the line is only in the older one).
    new_no: int | None
    text: str


def diff_rows(diff: str) -> list[DiffRow]:
    """The rows of a unified diff (as `difflib.unified_diff` writes it), numbered per side."""
    rows: list[DiffRow] = []
    old_no = new_no = 0
    in_hunk = False
    for line in diff.splitlines():
        hunk = _HUNK.match(line)
        if hunk:
            old_no, new_no, in_hunk = int(hunk.group(1)), int(hunk.group(2)), True
            rows.append(DiffRow("hunk", None, None, line))
        elif not in_hunk:
            rows.append(DiffRow("file", None, None, line))  # the ---/+++ header
        elif line.startswith("+"):
            rows.append(DiffRow("add", None, new_no, line))
            new_no += 1
        elif line.startswith("-"):
            rows.append(DiffRow("del", old_no, None, line))
            old_no += 1
        elif line.startswith("\\"):
            rows.append(DiffRow("note", None, None, line))  # "\ No newline at end of file"
        else:
            rows.append(DiffRow("same", old_no, new_no, line))
            old_no += 1
            new_no += 1
    return rows
