"""A unified diff as rows numbered by the line each has before and after the change."""

from __future__ import annotations

from shardcron.admin.services.glue_versions import unified_diff
from shardcron.admin.web.diff_rows import DiffRow, diff_rows


def test_rows_carry_the_old_and_new_line_numbers() -> None:
    before = "".join(f"line {n}\n" for n in range(1, 11))
    after = before.replace("line 2\n", "line two\n").replace("line 6\n", "line 6\nline 6b\n")
    rows = diff_rows(unified_diff(before, after, before_name="v1", after_name="v2"))
    assert rows[:2] == [DiffRow("file", None, None, "--- v1"), DiffRow("file", None, None, "+++ v2")]
    numbered = [(r.kind, r.old_no, r.new_no, r.text) for r in rows[2:]]
    assert numbered == [
        ("hunk", None, None, "@@ -1,9 +1,10 @@"),
        ("same", 1, 1, " line 1"),
        ("del", 2, None, "-line 2"),
        ("add", None, 2, "+line two"),
        ("same", 3, 3, " line 3"),
        ("same", 4, 4, " line 4"),
        ("same", 5, 5, " line 5"),
        ("same", 6, 6, " line 6"),
        ("add", None, 7, "+line 6b"),
        ("same", 7, 8, " line 7"),
        ("same", 8, 9, " line 8"),
        ("same", 9, 10, " line 9"),
    ]


def test_hunks_far_apart_restart_the_numbers() -> None:
    before = "".join(f"{n}\n" for n in range(1, 41))
    after = before.replace("3\n", "three\n", 1).replace("35\n", "thirty-five\n")
    rows = [r for r in diff_rows(unified_diff(before, after, before_name="a", after_name="b")) if r.kind in ("hunk", "del", "add")]
    assert [(r.kind, r.old_no, r.new_no) for r in rows] == [
        ("hunk", None, None), ("del", 3, None), ("add", None, 3),
        ("hunk", None, None), ("del", 35, None), ("add", None, 35),
    ]


def test_no_diff_is_no_rows_and_a_missing_newline_note_is_kept() -> None:
    assert diff_rows("") == []
    rows = diff_rows("--- a\n+++ b\n@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+y\n")
    assert [r.kind for r in rows] == ["file", "file", "hunk", "del", "note", "add"]
    assert (rows[5].old_no, rows[5].new_no) == (None, 1)
