"""The five endpoints over real HTTP on loopback, with literal bodies as XXL-JOB admins send them."""

from __future__ import annotations

import threading

import pytest
import requests

from shardcron.executor import JobResult
from shardcron.core.protocol import MAX_BODY_BYTES, ResultCode
from tests.support.executor_calls import LOG_DATE_MS, TOKEN, call, read_log, run, trigger
from tests.support.net import wait_until

# /run exactly as an XXL-JOB 2.4 admin sends it (Gson leaves null fields out).
RUN_24 = b'{"jobId":2,"executorHandler":"echo","executorParams":"a=1","executorBlockStrategy":"SERIAL_EXECUTION","executorTimeout":0,"logId":1042,"logDateTime":1767225600123,"glueType":"BEAN","glueUpdatetime":1767225000000,"broadcastIndex":0,"broadcastTotal":1}'
# One shard of a sharding broadcast as a 3.x admin sends it.
RUN_3X_SHARD = b'{"jobId":7,"executorHandler":"shardInfo","executorParams":"","executorBlockStrategy":"DISCARD_LATER","executorTimeout":30,"logId":99,"logDateTime":1767225600000,"glueType":"BEAN","glueSource":"","glueUpdatetime":0,"broadcastIndex":2,"broadcastTotal":4}'


@pytest.fixture
def executor(make_executor):
    ex = make_executor()
    ex.job("shardInfo")(lambda ctx: f"shard {ctx.shard_index}/{ctx.shard_total} of job {ctx.job_id} at {ctx.trigger_time_ms}")
    return ex.start()


def test_beat_answers_200_with_both_payload_names(executor) -> None:
    response = requests.post(f"http://127.0.0.1:{executor.port}/beat", headers={"XXL-JOB-ACCESS-TOKEN": TOKEN}, timeout=30)
    assert response.status_code == 200
    assert response.json() == {"code": 200, "msg": None, "content": None, "data": None}


def test_run_literal_24_body_runs_and_calls_back(executor, fake_admin) -> None:
    envelope = call(executor.port, "/run", raw=RUN_24)
    assert envelope.code == 200, envelope
    result = fake_admin.wait_for_result(1042)
    assert (result.handle_code, result.handle_msg, result.log_date_time_ms) == (200, "a=1", 1767225600123)
    raw = fake_admin.received("/api/callback")[0].raw
    # the array form, with both spellings of the date, that every admin up to 3.4.2 reads
    assert raw.startswith(b"[") and b'"logDateTim":1767225600123' in raw and b'"logDateTime":1767225600123' in raw


def test_run_literal_3x_shard_body_gives_the_shard(executor, fake_admin) -> None:
    assert call(executor.port, "/run", raw=RUN_3X_SHARD).ok
    assert fake_admin.wait_for_result(99).handle_msg == "shard 2/4 of job 7 at 1767225600000"


def test_run_refuses_unknown_handler_without_running_anything(executor, fake_admin) -> None:
    envelope = run(executor.port, 1, 1, handler="noSuchHandler")
    assert envelope.code == 500
    assert envelope.msg == "job handler [noSuchHandler] not found."
    # the logId was not taken: once the handler exists (a redeploy), the same logId is accepted
    assert run(executor.port, 1, 1, handler="echo").ok


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"not json", "body is not valid JSON"),
        (b"", "empty body"),
        (b"[1,2]", "expected a JSON object"),
        (b'{"jobId":"seven","logId":1,"logDateTime":1,"executorHandler":"echo"}', "'jobId' must be an integer"),
        (b'{"jobId":1,"logDateTime":1,"executorHandler":"echo"}', "missing required field 'logId'"),
        (b'{"jobId":1,"logId":2,"logDateTime":1}', "'executorHandler'"),
        (b'{"jobId":1,"logId":2,"logDateTime":1,"executorHandler":"echo","broadcastIndex":4,"broadcastTotal":4}', "shard 4/4 is out of range"),
    ],
)
def test_run_refuses_malformed_bodies_naming_the_field(executor, fake_admin, raw: bytes, words: str) -> None:
    envelope = call(executor.port, "/run", raw=raw)
    assert envelope.code == 500
    assert words in envelope.msg
    assert executor.dispatcher.worker_count == 0


def test_oversize_body_is_refused(executor) -> None:
    response = requests.post(
        f"http://127.0.0.1:{executor.port}/run",
        data=b"x" * (MAX_BODY_BYTES + 1),
        headers={"XXL-JOB-ACCESS-TOKEN": TOKEN},
        timeout=30,
    )
    # waitress cuts the body at the protocol's limit before the app reads it
    assert response.status_code == 413


def test_duplicate_log_id_is_refused_with_xxljob_wording(executor, fake_admin) -> None:
    assert run(executor.port, 3, 500).ok
    fake_admin.wait_for_result(500)
    envelope = run(executor.port, 4, 500)
    assert envelope.code == 500
    assert envelope.msg.startswith("repeat trigger job, logId:500")
    assert fake_admin.callback_counts()[500] == 1


def test_duplicate_log_id_still_in_the_spool_is_refused(make_executor, fake_admin, tmp_path) -> None:
    fake_admin.refuse("/api/callback")
    first = make_executor(data_dir=str(tmp_path / "shared")).start()
    assert run(first.port, 3, 77).ok
    wait_until(lambda: first.spool.spooled_log_ids() == [77], what="result spooled")
    first.stop(timeout_s=5)
    # a new process on the same folders: the accepted-logId memory is gone, the spool is not
    second = make_executor(data_dir=str(tmp_path / "shared")).start()
    envelope = run(second.port, 3, 77)
    assert (envelope.code, envelope.msg) == (500, "repeat trigger job, logId:77")


@pytest.mark.parametrize("headers", [{}, {"XXL-JOB-ACCESS-TOKEN": "wrong-token-0123456789"}, {"XXL-JOB-ACCESS-TOKEN": ""}])
@pytest.mark.parametrize("path", ["/beat", "/run", "/kill", "/log", "/idleBeat"])
def test_missing_or_wrong_token_is_refused(executor, fake_admin, headers: dict, path: str) -> None:
    body = trigger(1, 900) if path == "/run" else {"jobId": 1, "logId": 900, "logDateTim": LOG_DATE_MS}
    response = requests.post(f"http://127.0.0.1:{executor.port}{path}", json=body, headers=headers, timeout=30)
    assert response.status_code == 200
    assert response.json()["code"] == 500
    assert response.json()["msg"] == "The access token is wrong."
    assert executor.dispatcher.worker_count == 0


def test_token_alias_header_is_accepted(executor) -> None:
    response = requests.post(f"http://127.0.0.1:{executor.port}/beat", headers={"XXL-RPC-ACCESS-TOKEN": TOKEN}, timeout=30)
    assert response.json()["code"] == 200


def test_non_post_and_unknown_path_are_answered_like_xxljob(executor) -> None:
    assert call(executor.port, "/beat", method="GET").msg == "invalid request, HttpMethod not support."
    envelope = call(executor.port, "/nothing")
    assert (envelope.code, envelope.msg) == (500, "invalid request, uri-mapping(/nothing) not found.")
    # an admin joining "http://host:port/" and "/run" sends a double slash; it still works
    assert call(executor.port, "//beat").ok


def test_idle_beat_reflects_running_and_queued(executor, fake_admin) -> None:
    release = threading.Event()
    executor.job("block")(lambda ctx: release.wait(30) and "released")
    assert call(executor.port, "/idleBeat", {"jobId": 5}).ok
    assert run(executor.port, 5, 51, handler="block").ok
    busy = call(executor.port, "/idleBeat", {"jobId": 5})
    assert (busy.code, busy.msg) == (500, "job thread is running or has trigger queue.")
    assert call(executor.port, "/idleBeat", {"jobId": 6}).ok  # other jobs are not affected
    release.set()
    fake_admin.wait_for_result(51)
    wait_until(lambda: call(executor.port, "/idleBeat", {"jobId": 5}).ok, what="job 5 idle")
    assert call(executor.port, "/idleBeat", {"jobid": 5}).code == 500  # malformed body


def test_kill_without_a_running_job(executor) -> None:
    envelope = call(executor.port, "/kill", {"jobId": 42})
    assert (envelope.code, envelope.msg) == (200, "job thread already killed.")


def test_log_pages_from_a_line_and_ends_after_the_run(executor, fake_admin) -> None:
    release = threading.Event()

    def chatty(ctx):
        for i in range(3):
            ctx.log("line %d", i)
        release.wait(30)
        ctx.log("last line")

    executor.job("chatty")(chatty)
    assert run(executor.port, 8, 80, handler="chatty").ok
    wait_until(lambda: read_log(executor.port, 80).to_line_num >= 4, what="first lines")
    first = read_log(executor.port, 80)
    assert first.from_line_num == 1 and first.is_end is False
    assert "run 80 of job 8 started: handler chatty, shard 0/1" in first.log_content.splitlines()[0]
    assert first.log_content.splitlines()[1].endswith("] line 0")
    release.set()
    fake_admin.wait_for_result(80)
    wait_until(lambda: read_log(executor.port, 80, first.to_line_num + 1).is_end, what="log end")
    rest = read_log(executor.port, 80, first.to_line_num + 1)
    assert rest.from_line_num == first.to_line_num + 1
    lines = rest.log_content.splitlines()
    assert lines[0].endswith("last line") and lines[-1].endswith("result: code 200")
    assert rest.to_line_num == first.to_line_num + len(lines)
    beyond = read_log(executor.port, 80, rest.to_line_num + 1)
    assert (beyond.to_line_num, beyond.log_content, beyond.is_end) == (rest.to_line_num, "", True)


def test_run_that_logs_nothing_is_served_from_memory_then_leaves_no_file(executor, fake_admin) -> None:
    release = threading.Event()
    executor.job("quiet")(lambda ctx: release.wait(30) and None)
    assert run(executor.port, 8, 81, handler="quiet").ok
    wait_until(lambda: read_log(executor.port, 81).to_line_num == 1, what="the started line")
    live = read_log(executor.port, 81)
    assert "run 81 of job 8 started: handler quiet, shard 0/1" in live.log_content and live.is_end is False
    assert not executor.logs.path_for(81, LOG_DATE_MS).exists()  # held in memory, not on disk
    release.set()
    assert fake_admin.wait_for_result(81).handle_code == 200
    wait_until(lambda: read_log(executor.port, 81, 2).is_end, what="log end")
    # the run succeeded without a line of its own: no file, and /log says so from any line on
    assert not executor.logs.path_for(81, LOG_DATE_MS).exists()
    ended = read_log(executor.port, 81, 2)
    assert (ended.from_line_num, ended.to_line_num, ended.log_content, ended.is_end) == (2, 1, "", True)
    again = read_log(executor.port, 81)
    assert (again.to_line_num, again.log_content, again.is_end) == (0, "", True)
    assert again.log_id_known is True  # no lines, yet the executor says it took that logId


def test_run_that_fails_without_logging_still_has_its_log(executor, fake_admin) -> None:
    executor.job("refuses")(lambda ctx: JobResult.fail("not today"))
    assert run(executor.port, 8, 82, handler="refuses").ok
    fake_admin.wait_for_result(82)
    wait_until(lambda: read_log(executor.port, 82).is_end, what="log end")
    lines = read_log(executor.port, 82).log_content.splitlines()
    assert len(lines) == 2 and "run 82 of job 8 started: handler refuses" in lines[0]
    assert lines[1].endswith("result: code 500, not today")


def test_log_of_unknown_run_ends_at_once_and_says_the_logid_was_never_taken(executor) -> None:
    result = read_log(executor.port, 123456)
    assert (result.from_line_num, result.to_line_num, result.log_content, result.is_end) == (1, 0, "", True)
    assert result.log_id_known is False


def test_log_says_a_queued_run_was_taken(executor, fake_admin) -> None:
    """A SERIAL run waiting behind another has no log line yet, but it was accepted."""
    release = threading.Event()
    executor.job("slow")(lambda ctx: release.wait(30) and None)
    assert run(executor.port, 9, 90, handler="slow").ok
    assert run(executor.port, 9, 91, handler="slow").ok  # queued behind run 90
    try:
        assert read_log(executor.port, 91).log_id_known is True
    finally:
        release.set()
    fake_admin.wait_for_result(91)


def test_log_accepts_the_new_spelling_and_refuses_bad_line(executor) -> None:
    assert call(executor.port, "/log", {"logDateTime": LOG_DATE_MS, "logId": 5, "fromLineNum": 1}).ok
    assert "'fromLineNum' must be 1 or more" in call(executor.port, "/log", {"logDateTim": LOG_DATE_MS, "logId": 5, "fromLineNum": 0}).msg


def test_failed_handler_result_code(executor, fake_admin) -> None:
    def broken(ctx):
        raise RuntimeError("database is down")

    executor.job("broken")(broken)
    assert run(executor.port, 9, 90, handler="broken").ok
    result = fake_admin.wait_for_result(90)
    assert (result.handle_code, result.handle_msg) == (ResultCode.FAIL, "RuntimeError: database is down")
