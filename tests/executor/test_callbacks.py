"""Callbacks are never lost: spooled before the first send, batched, failed over, replayed."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from shardcron.executor.admin_client import AdminClient
from shardcron.executor.callback import CALLBACK_BATCH_MAX, CallbackSender
from shardcron.core.clock import FakeClock
from shardcron.core.protocol import CallbackParam
from shardcron.executor.spool import CallbackSpool, SpoolError
from tests.support.executor_calls import LOG_DATE_MS, TOKEN, run
from tests.support.fake_admin import FakeAdmin
from tests.support.net import wait_until

# ---------------------------------------------------------------------- the spool itself


def _lines(*results: CallbackParam) -> list[bytes]:
    return [json.dumps(r.to_wire()).encode() for r in results]


def test_spool_appends_to_a_segment_and_deletes_it_once_all_is_accepted(tmp_path: Path) -> None:
    spool = CallbackSpool(tmp_path / "spool")
    spool.prepare()
    first = spool.append(_lines(CallbackParam(12, LOG_DATE_MS, 200, "ok", result_data={"n": 1}), CallbackParam(13, LOG_DATE_MS, 502, "slow")))
    second = spool.append(_lines(CallbackParam(3, LOG_DATE_MS, 500, "bad")))
    assert first == second  # one segment takes the results of successive commits
    assert [p.name for p in (tmp_path / "spool").glob("*.spool")] == [first]
    [(name, results)] = CallbackSpool(tmp_path / "spool").load()  # what a restarted process replays
    assert name == first
    assert [(r.log_id, r.handle_code, r.handle_msg) for r in results] == [(12, 200, "ok"), (13, 502, "slow"), (3, 500, "bad")]
    assert dict(results[0].result_data) == {"n": 1}
    spool.accepted({first: 3})
    assert spool.spooled_log_ids() == [3, 12, 13]  # still taking results: kept until tidy()
    spool.tidy()
    assert list((tmp_path / "spool").glob("*.spool")) == []


def test_spool_starts_a_new_segment_when_one_is_full(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("shardcron.executor.spool.SEGMENT_MAX_RESULTS", 2)
    spool = CallbackSpool(tmp_path / "spool")
    spool.prepare()
    a = spool.append(_lines(CallbackParam(1, LOG_DATE_MS, 200), CallbackParam(2, LOG_DATE_MS, 200)))
    b = spool.append(_lines(CallbackParam(3, LOG_DATE_MS, 200)))
    assert a != b and sorted(p.name for p in (tmp_path / "spool").glob("*.spool")) == sorted([a, b])
    spool.accepted({a: 1})
    assert (tmp_path / "spool" / a).exists()
    spool.accepted({a: 1})  # full and all accepted: gone
    assert [p.name for p in (tmp_path / "spool").glob("*.spool")] == [b]


def test_spool_sets_aside_unreadable_lines_and_skips_a_torn_tail(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    spool = CallbackSpool(root)
    spool.prepare()
    good = json.dumps(CallbackParam(9, LOG_DATE_MS, 200).to_wire()).encode()
    (root / "old.spool").write_bytes(good + b"\n{not json\n" + good.replace(b"9", b"10", 1) + b"\n" + b'{"logId": 11, "handl')
    [(name, results)] = spool.load()
    assert [r.log_id for r in results] == [9, 10]
    assert (root / "corrupt" / "old.spool.bad").read_bytes() == b"{not json\n"


def test_a_spool_folder_serves_one_process_at_a_time(tmp_path: Path) -> None:
    first = CallbackSpool(tmp_path / "spool")
    first.prepare()
    with pytest.raises(SpoolError, match=rf"in use by another executor process \(pid {os.getpid()}\)"):
        CallbackSpool(tmp_path / "spool").prepare()
    first.close()
    CallbackSpool(tmp_path / "spool").prepare()  # free again once the first one closed it


def test_spool_in_an_unusable_place_stops_the_start(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SpoolError, match=f"callback spool {blocker / 'spool'} is not usable"):
        CallbackSpool(blocker / "spool").prepare()


# ---------------------------------------------------------------------- through the executor


class _CountingSpool(CallbackSpool):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.appends: list[int] = []

    def append(self, lines: list[bytes]) -> str:
        self.appends.append(len(lines))
        return super().append(lines)


def test_results_arriving_while_the_committer_lingers_share_one_write(tmp_path: Path) -> None:
    spool = _CountingSpool(tmp_path / "spool")
    spool.prepare()
    client = AdminClient(("http://127.0.0.1:9/",), TOKEN, 1.0)  # never called: nothing is sent here
    sender = CallbackSender(spool, client, FakeClock(), 1.0, commit_linger_s=1.0)
    sender.start()
    durable: list[int] = []
    try:
        sender.submit(CallbackParam(1, LOG_DATE_MS, 200), lambda: durable.append(1))
        # The committer took the first result (it is lingering now) before the others arrive:
        # without the linger it would write that one alone.
        wait_until(lambda: sender._commit_queue.empty(), interval_s=0.001, what="committer took the first result")
        for log_id in (2, 3):
            sender.submit(CallbackParam(log_id, LOG_DATE_MS, 200), lambda log_id=log_id: durable.append(log_id))
        wait_until(lambda: len(durable) == 3, what="all three durable")
    finally:
        sender.stop_commits()
        sender.close()
    assert spool.appends == [3] and durable == [1, 2, 3]
    assert sender.pending_count == 3 and all(sender.is_pending(log_id) for log_id in (1, 2, 3))


def test_result_is_on_disk_before_it_is_first_sent(make_executor, fake_admin) -> None:
    executor = make_executor().start()
    seen_on_disk: list[bool] = []
    fake_admin.hook = lambda path, parsed: path == "/api/callback" and seen_on_disk.extend(
        item.log_id in executor.spool.spooled_log_ids() for item in parsed
    )
    run(executor.port, 1, 1)
    fake_admin.wait_for_result(1)
    assert seen_on_disk == [True]
    wait_until(lambda: executor.spool.spooled_log_ids() == [], what="spool emptied after acceptance")


def test_admin_down_for_a_while_then_back_every_result_delivered_once(make_executor, fake_admin, fake_clock) -> None:
    executor = make_executor(clock=fake_clock, callback_retry_s=10).start()
    fake_admin.stop()
    log_ids = list(range(1000, 1120))
    for log_id in log_ids:
        assert run(executor.port, log_id % 7, log_id, executorParams=f"p{log_id}").ok
    wait_until(lambda: executor.spool.spooled_log_ids() == log_ids, what="every result spooled")
    executor.tick()  # still down: nothing lost, nothing delivered
    assert fake_admin.callbacks(accepted=False) == []
    fake_admin.start()
    fake_clock.advance(s=10)
    executor.tick()
    wait_until(lambda: len(fake_admin.callback_counts()) == len(log_ids), what="every result delivered")
    assert set(fake_admin.callback_counts().values()) == {1}
    assert all(fake_admin.result(i).handle_msg == f"p{i}" for i in log_ids)
    sizes = [len(r.parsed) for r in fake_admin.received("/api/callback")]
    assert max(sizes) <= CALLBACK_BATCH_MAX and sum(sizes) == len(log_ids)
    assert executor.spool.spooled_log_ids() == []


def test_refused_batches_are_retried_after_the_retry_delay(make_executor, fake_admin, fake_clock) -> None:
    fake_admin.refuse("/api/callback")
    executor = make_executor(clock=fake_clock, callback_retry_s=10).start()
    for log_id in range(1, 121):
        run(executor.port, log_id % 3, log_id)
    wait_until(lambda: len(executor.spool.spooled_log_ids()) == 120, what="results spooled")
    wait_until(lambda: fake_admin.received("/api/callback"), what="a first attempt")
    # on disk is not yet queued for sending: wait for the last group (and the refused batch put back)
    wait_until(lambda: executor.callbacks.pending_count == 120, what="every result queued for sending")
    attempts = len(fake_admin.received("/api/callback"))
    fake_clock.advance(s=9)
    executor.tick()
    assert len(fake_admin.received("/api/callback")) == attempts  # waits out the retry delay
    fake_admin.accept("/api/callback")
    fake_clock.advance(s=1)
    executor.tick()
    wait_until(lambda: len(fake_admin.callback_counts()) == 120, what="all delivered")
    accepted_sizes = [len(r.parsed) for r in fake_admin.received("/api/callback") if r.accepted]
    assert accepted_sizes == [50, 50, 20]
    assert set(fake_admin.callback_counts().values()) == {1}


def test_callbacks_fail_over_to_the_next_admin(make_executor, fake_admin) -> None:
    second = FakeAdmin(token=TOKEN).start()
    try:
        fake_admin.refuse("/api/callback")
        down = FakeAdmin(token=TOKEN)  # never started: connection refused
        executor = make_executor(admin_addresses=[down.url, fake_admin.url, second.url]).start()
        run(executor.port, 1, 5, executorParams="via the third admin")
        assert second.wait_for_result(5).handle_msg == "via the third admin"
        assert [c.log_id for c in fake_admin.callbacks(accepted=False)] == [5]  # tried, refused
        assert fake_admin.callbacks() == []
    finally:
        second.stop()


def test_spooled_results_are_replayed_at_start(make_executor, fake_admin, tmp_path) -> None:
    fake_admin.refuse("/api/callback")
    first = make_executor(data_dir=str(tmp_path / "same"), callback_retry_s=3600).start()
    for log_id in (41, 42):
        run(first.port, log_id, log_id)
    wait_until(lambda: first.spool.spooled_log_ids() == [41, 42], what="spooled")
    first.stop(timeout_s=5)  # its flush is refused too: the results stay on disk
    assert fake_admin.callbacks() == []
    fake_admin.accept("/api/callback")
    second = make_executor(data_dir=str(tmp_path / "same")).start()
    wait_until(lambda: fake_admin.callback_counts() == {41: 1, 42: 1}, what="replayed results")
    wait_until(lambda: second.spool.spooled_log_ids() == [], what="spool emptied")


def test_callback_body_carries_result_data_on_the_wire(make_executor, fake_admin) -> None:
    executor = make_executor()
    executor.job("counts")(lambda ctx: ctx.result_data.update(claimed=2) or "ok")
    executor.start()
    run(executor.port, 1, 6, handler="counts")
    fake_admin.wait_for_result(6)
    body = json.loads(fake_admin.received("/api/callback")[0].raw)
    assert body == [
        {"logId": 6, "logDateTim": LOG_DATE_MS, "logDateTime": LOG_DATE_MS, "handleCode": 200, "handleMsg": "ok", "resultData": {"claimed": 2}}
    ]


def test_a_disk_that_refuses_the_spool_still_delivers_from_memory(make_executor, fake_admin, monkeypatch, caplog) -> None:
    executor = make_executor().start()

    def full_disk(lines):
        raise SpoolError("callback spool: no space left on device")  # what a full disk produces

    monkeypatch.setattr(executor.spool, "append", full_disk)
    run(executor.port, 1, 31, executorParams="not durable but not lost")
    assert fake_admin.wait_for_result(31).handle_msg == "not durable but not lost"
    assert any(r.getMessage() == "results not spooled, sending from memory only" for r in caplog.records)
