"""Run log files: where they live, how they are paged, when they go."""

from __future__ import annotations

from pathlib import Path

from shardcron.core.clock import FakeClock
from shardcron.executor.joblog import LOG_PAGE_MAX_BYTES, LOG_PAGE_MAX_LINES, RunLogStore

DAY_MS = 86_400_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def test_path_is_day_of_the_trigger_time_in_utc(tmp_path: Path) -> None:
    store = RunLogStore(tmp_path, FakeClock(T0), retention_days=30)
    assert store.path_for(1042, T0 + 1) == tmp_path / "2026-01-01" / "1042.log"
    assert store.path_for(7, T0 - 1) == tmp_path / "2025-12-31" / "7.log"


def test_lines_are_timestamped_and_multiline_text_keeps_its_lines(tmp_path: Path) -> None:
    clock = FakeClock(T0 + 1_234)
    store = RunLogStore(tmp_path, clock, retention_days=30)
    log = store.open(1, T0)
    log.write("first")
    log.write("two\nlines\r\n")
    log.close()
    log.write("after close is dropped")
    lines = store.path_for(1, T0).read_text().splitlines()
    assert lines[0].startswith("2026-01-01 00:00:01.234 [") and lines[0].endswith("] first")
    assert lines[1].endswith("] two") and lines[2] == "lines"
    assert len(lines) == 3


def test_held_lines_reach_the_file_only_ahead_of_a_written_line(tmp_path: Path) -> None:
    clock = FakeClock(T0)
    store = RunLogStore(tmp_path, clock, retention_days=30)
    log = store.open(1, T0)
    log.hold("started")
    assert not (tmp_path / "2026-01-01").exists()  # nothing touches the disk yet
    clock.advance(250)
    log.write("working")
    clock.advance(250)
    log.hold("result")  # the file exists now: written at once
    log.close()
    lines = store.path_for(1, T0).read_text().splitlines()
    assert [line.split(" [")[0] for line in lines] == ["2026-01-01 00:00:00.000", "2026-01-01 00:00:00.250", "2026-01-01 00:00:00.500"]
    assert [line.rsplit("] ", 1)[1] for line in lines] == ["started", "working", "result"]


def test_a_log_of_held_lines_only_is_read_from_memory_and_never_written(tmp_path: Path) -> None:
    store = RunLogStore(tmp_path, FakeClock(T0), retention_days=30)
    log = store.open(2, T0)
    assert log.read_page(1) is None
    described: list[int] = []
    log.hold(lambda: described.append(1) or "started")  # formatted only when read or written
    log.hold("result")
    assert described == []
    page = log.read_page(2)
    assert (page.from_line, page.to_line, page.at_eof) == (2, 2, True) and page.content.endswith("] result\n")
    assert log.read_page(1).content.splitlines()[0].endswith("] started")
    log.close()
    assert log.read_page(1) is None and store.read_page(2, T0, 1) is None
    assert not store.path_for(2, T0).exists()
    quiet = store.open(3, T0)
    quiet.hold(lambda: described.append(3) or "never formatted")
    quiet.close()
    assert described == [1, 1] and not store.path_for(3, T0).exists()


def test_pages_from_a_line_number(tmp_path: Path) -> None:
    store = RunLogStore(tmp_path, FakeClock(T0), retention_days=30)
    path = store.path_for(5, T0)
    path.parent.mkdir(parents=True)
    path.write_text("".join(f"line {i}\n" for i in range(1, 11)))
    page = store.read_page(5, T0, 4)
    assert (page.from_line, page.to_line, page.at_eof) == (4, 10, True)
    assert page.content.splitlines() == [f"line {i}" for i in range(4, 11)]
    empty = store.read_page(5, T0, 11)
    assert (empty.from_line, empty.to_line, empty.content, empty.at_eof) == (11, 10, "", True)
    assert store.read_page(6, T0, 1) is None


def test_a_line_still_being_written_is_not_returned(tmp_path: Path) -> None:
    store = RunLogStore(tmp_path, FakeClock(T0), retention_days=30)
    path = store.path_for(5, T0)
    path.parent.mkdir(parents=True)
    path.write_text("done\nhalf a li")
    page = store.read_page(5, T0, 1)
    assert (page.to_line, page.content) == (1, "done\n")


def test_pages_are_bounded_in_lines_and_bytes(tmp_path: Path) -> None:
    store = RunLogStore(tmp_path, FakeClock(T0), retention_days=30)
    many = store.path_for(1, T0)
    many.parent.mkdir(parents=True)
    many.write_text("x\n" * (LOG_PAGE_MAX_LINES + 10))
    first = store.read_page(1, T0, 1)
    assert (first.to_line, first.at_eof) == (LOG_PAGE_MAX_LINES, False)
    rest = store.read_page(1, T0, first.to_line + 1)
    assert (rest.from_line, rest.to_line, rest.at_eof) == (LOG_PAGE_MAX_LINES + 1, LOG_PAGE_MAX_LINES + 10, True)
    wide = store.path_for(2, T0)
    wide.write_text(("y" * 400_000 + "\n") * 4)
    page = store.read_page(2, T0, 1)
    assert page.to_line == LOG_PAGE_MAX_BYTES // 400_001 and not page.at_eof


def test_retention_removes_old_day_folders_only(tmp_path: Path) -> None:
    clock = FakeClock(T0 + 40 * DAY_MS)  # 2026-02-10
    store = RunLogStore(tmp_path, clock, retention_days=30)
    for day in ("2025-12-31", "2026-01-10", "2026-01-11", "2026-02-10"):
        (tmp_path / day).mkdir()
        (tmp_path / day / "1.log").write_text("x\n")
    (tmp_path / "not-a-day").mkdir()
    assert store.cleanup(clock.now_ms()) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["2026-01-11", "2026-02-10", "not-a-day"]
    assert RunLogStore(tmp_path, clock, retention_days=0).cleanup(clock.now_ms()) == 0


def test_unwritable_log_never_fails_the_run_and_is_reported_once(tmp_path: Path, caplog) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    store = RunLogStore(blocker, FakeClock(T0), retention_days=30)
    log = store.open(1, T0)
    log.write("goes nowhere")  # raises nothing into the handler
    log.write("still nothing")
    warnings = [r for r in caplog.records if r.getMessage() == "run log not writable"]
    assert len(warnings) == 1 and warnings[0].log_id == 1


def test_the_executor_applies_retention_at_start_and_hourly(make_executor, fake_clock) -> None:
    executor = make_executor(clock=fake_clock, log_retention_days=7)
    root = executor.config.effective_log_dir
    (root / "2025-12-01").mkdir(parents=True)  # a month before the FakeClock's 2026-01-01
    executor.tick()
    assert not (root / "2025-12-01").exists()
    (root / "2025-12-24").mkdir()  # 8 days old: kept until the next hourly pass
    fake_clock.advance(s=3599)
    executor.tick()
    assert (root / "2025-12-24").exists()
    fake_clock.advance(s=1)
    executor.tick()
    assert not (root / "2025-12-24").exists()
