"""Script jobs: off unless opted in; run as `interpreter file param index total`; killed for real."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.support.executor_calls import LOG_DATE_MS, call, run
from tests.support.net import wait_until

SHELL_ECHO = """#!/bin/bash
echo "param=$1 index=$2 total=$3"
echo "token=${SHARDCRON_EXECUTOR_ACCESS_TOKEN:-hidden} log=$SHARDCRON_LOG_ID"
echo "to stderr" >&2
exit ${EXIT_WITH:-0}
"""


def _glue(glue_type: str, source: str, **fields):
    """The /run fields of a script job."""
    body = {"glueType": glue_type, "glueSource": source, "glueUpdatetime": 1_767_000_000_000, "executorHandler": ""}
    body.update(fields)
    return body


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.fixture
def glue_executor(make_executor):
    return make_executor(glue_enabled=True, glue_python=sys.executable)


def test_script_jobs_are_refused_unless_enabled(make_executor, fake_admin) -> None:
    executor = make_executor().start()
    envelope = run(executor.port, 1, 1, **_glue("GLUE_SHELL", "echo hi"))
    assert envelope.code == 500
    assert envelope.msg.startswith("glueType[GLUE_SHELL] is disabled on this executor")
    assert executor.dispatcher.worker_count == 0


def test_unsupported_glue_type_is_refused(glue_executor) -> None:
    glue_executor.start()
    envelope = run(glue_executor.port, 1, 1, **_glue("GLUE_GROOVY", "println 1"))
    assert (envelope.code, envelope.msg) == (500, "glueType[GLUE_GROOVY] is not valid. (this executor runs BEAN, GLUE_SHELL and GLUE_PYTHON)")


def test_shell_script_gets_its_arguments_and_its_output_goes_to_the_run_log(glue_executor, fake_admin, monkeypatch) -> None:
    monkeypatch.setenv("SHARDCRON_EXECUTOR_ACCESS_TOKEN", "must-not-leak-into-scripts")
    glue_executor.start()
    assert run(glue_executor.port, 1, 2, executorParams="hello", broadcastIndex=1, broadcastTotal=3, **_glue("GLUE_SHELL", SHELL_ECHO)).ok
    result = fake_admin.wait_for_result(2)
    assert (result.handle_code, result.handle_msg) == (200, "script exit code 0")
    wait_until(lambda: not glue_executor.dispatcher.is_active(2), what="run ended")
    lines = glue_executor.logs.path_for(2, LOG_DATE_MS).read_text().splitlines()
    output = [line.split("] ", 1)[1] for line in lines]
    assert "param=hello index=1 total=3" in output
    assert "token=hidden log=2" in output
    assert "to stderr" in output


def test_nonzero_exit_code_fails_the_run(glue_executor, fake_admin, monkeypatch) -> None:
    monkeypatch.setenv("EXIT_WITH", "3")
    glue_executor.start()
    run(glue_executor.port, 1, 3, **_glue("GLUE_SHELL", SHELL_ECHO))
    result = fake_admin.wait_for_result(3)
    assert (result.handle_code, result.handle_msg) == (500, "script exit code 3")


def test_python_script(glue_executor, fake_admin) -> None:
    glue_executor.start()
    source = "import sys\nprint('args', sys.argv[1:])\n"
    run(glue_executor.port, 1, 4, executorParams="p q", **_glue("GLUE_PYTHON", source))
    assert fake_admin.wait_for_result(4).handle_code == 200
    wait_until(lambda: not glue_executor.dispatcher.is_active(4), what="run ended")
    assert "args ['p q', '0', '1']" in glue_executor.logs.path_for(4, LOG_DATE_MS).read_text()


def test_missing_interpreter_is_a_clear_failure(make_executor, fake_admin) -> None:
    executor = make_executor(glue_enabled=True, glue_shell="/nonexistent/bash").start()
    run(executor.port, 1, 5, **_glue("GLUE_SHELL", "echo hi"))
    assert fake_admin.wait_for_result(5).handle_msg == "interpreter '/nonexistent/bash' for GLUE_SHELL not found on this executor"


def _sleeper_source(pid_dir: Path) -> str:
    return f"""#!/bin/bash
sleep 300 &
echo $! > {pid_dir}/child.pid
echo $$ > {pid_dir}/leader.pid
wait
"""


def _wait_for_pids(pid_dir: Path) -> list[int]:
    wait_until(lambda: (pid_dir / "child.pid").exists() and (pid_dir / "leader.pid").exists(), what="script running")
    wait_until(lambda: (pid_dir / "child.pid").read_text().strip() and (pid_dir / "leader.pid").read_text().strip(), what="pids written")
    return [int((pid_dir / name).read_text()) for name in ("leader.pid", "child.pid")]


def test_kill_terminates_the_whole_process_group(glue_executor, fake_admin, tmp_path) -> None:
    glue_executor.start()
    run(glue_executor.port, 6, 6, **_glue("GLUE_SHELL", _sleeper_source(tmp_path)))
    pids = _wait_for_pids(tmp_path)
    assert all(_alive(pid) for pid in pids)
    assert call(glue_executor.port, "/kill", {"jobId": 6}).ok
    assert fake_admin.wait_for_result(6).handle_msg == "job killed while running: killed by /kill"
    wait_until(lambda: not any(_alive(pid) for pid in pids), what="script and its child gone")
    wait_until(lambda: not glue_executor.dispatcher.is_busy(6), what="job free")


def test_timeout_kills_the_script(make_executor, fake_admin, fake_clock, tmp_path) -> None:
    executor = make_executor(glue_enabled=True, clock=fake_clock).start()
    run(executor.port, 7, 7, executorTimeout=10, **_glue("GLUE_SHELL", _sleeper_source(tmp_path)))
    pids = _wait_for_pids(tmp_path)
    fake_clock.advance(s=10)
    executor.tick()
    result = fake_admin.wait_for_result(7)
    assert (result.handle_code, result.handle_msg) == (502, "job execute timeout: exceeded 10s")
    wait_until(lambda: not any(_alive(pid) for pid in pids), what="script and its child gone")


def test_a_new_glue_version_replaces_the_old_script_file(glue_executor, fake_admin) -> None:
    glue_executor.start()
    run(glue_executor.port, 8, 80, **_glue("GLUE_SHELL", "echo v1", glueUpdatetime=1))
    fake_admin.wait_for_result(80)
    run(glue_executor.port, 8, 81, **_glue("GLUE_SHELL", "echo v2", glueUpdatetime=2))
    fake_admin.wait_for_result(81)
    scripts = sorted(p.name for p in glue_executor.config.glue_dir.iterdir())
    assert len(scripts) == 1 and scripts[0].startswith("8_2_") and scripts[0].endswith(".sh")
    assert os.access(glue_executor.config.glue_dir / scripts[0], os.X_OK)
