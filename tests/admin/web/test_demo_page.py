"""The Demo page's part about the workflow "nightly-pipeline": its story, and what the database
holds of it now (schedule, state, the latest instances with the states of the invoices load and
its compensation, links to its editor, instances and trigger form), in English and Chinese; and,
when the demo's workflow or the recipes' jobs are not in the database, a line saying so."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin.demo import pipeline, recipes
from shardcron.admin.demo.setup import DemoSetup, prepare_demo, start_demo_jobs
from shardcron.admin.enums import StepStatus, UserRole, WorkflowStatus
from shardcron.admin.models import WorkflowInstance, WorkflowStepRun
from shardcron.admin.services.users import actor_for_user
from shardcron.admin.services.workflow_runs import trigger_workflow
from shardcron.core.clock import FakeClock
from shardcron.executor.examples.nightly_pipeline import invoices_fail
from tests.support.console import Console, build_console

WEBHOOK = "http://127.0.0.1:9/hook"


@pytest.fixture
def demo_console(tmp_path: Path, db_url: str, fake_clock: FakeClock) -> Iterator[Console]:
    """The console as `shardcron demo` starts it (its Demo page on), on a fresh database."""
    built = build_console(tmp_path, db_url, fake_clock, demo_control_url="http://127.0.0.1:9/", demo_control_token="t" * 20)
    try:
        yield built
    finally:
        built.db.dispose()


def _section(html: str) -> str:
    start = html.index('<section class="card" id="demo-pipeline">')
    return html[start : html.index("</section>", start)]


def _rows(section: str) -> list[tuple[int, str, str, str]]:
    """(instance id, its status, load_invoices' state, compensate_invoices' state) per table row."""
    rows = []
    for row in re.findall(r'<tr data-instance-id="\d+".*?</tr>', section, re.S):
        instance_id, status = re.search(r'data-instance-id="(\d+)" data-status="(\w+)"', row).groups()  # type: ignore[union-attr]
        steps = dict(re.findall(r'data-step="(\w+)">(?:<span class="badge badge-\w+">(\w+)</span>|<span class="muted">—</span>)', row))
        rows.append((int(instance_id), status, steps["load_invoices"] or "—", steps["compensate_invoices"] or "—"))
    return rows


def _end(console: Console, instance_id: int, status: WorkflowStatus, steps: dict[str, StepStatus]) -> None:
    """The instance ended as the executors would have left it (no executor runs in these tests)."""
    with console.db.session() as s:
        s.execute(sa.update(WorkflowInstance).where(WorkflowInstance.id == instance_id).values(status=status, finished_at_ms=console.clock.now_ms()))
        for key, state in steps.items():
            s.execute(sa.update(WorkflowStepRun).where(WorkflowStepRun.instance_id == instance_id, WorkflowStepRun.step_key == key).values(status=state))


def _demo(console: Console) -> DemoSetup:
    return prepare_demo(console.db, webhook_url=WEBHOOK, now_ms=console.clock.now_ms())


def test_without_the_demo_workflow_the_page_says_it_is_not_here(demo_console: Console) -> None:
    demo_console.add_user("root", UserRole.ADMIN)
    html = demo_console.login("root").get("/demo").get_data(as_text=True)
    section = _section(html)
    assert "load_invoices fails in the first instance and every third after it" in section  # the story is told all the same
    assert 'id="demo-pipeline-missing"' in section and "The workflow “nightly-pipeline” of the group shardcron-demo-pipeline is not here" in section
    assert "/workflows/" not in section and "/workflow-instances" not in section and "data-autorefresh" not in html
    # the recipes' jobs are missing too, and the page says so for each
    missing = re.findall(r"The job “([^”]+)” is not here", html)
    assert sorted(missing) == sorted([recipes.SHIFT_JOB, "create work orders", recipes.BATCH_JOB])


def test_the_page_links_the_demo_workflow_and_shows_its_latest_instances(demo_console: Console) -> None:
    setup = _demo(demo_console)
    client = demo_console.login(setup.username, setup.password)
    wf = setup.workflow_id

    html = client.get("/demo").get_data(as_text=True)  # created, not started yet
    section = _section(html)
    assert "demo-missing" not in html  # neither the workflow nor a recipe's job is missing
    assert 'id="demo-pipeline-no-instance"' in section and "badge-stopped" in section and "It is stopped" in section
    assert 'id="demo-pipeline-next"' not in section and "data-autorefresh" not in section
    assert f'id="demo-pipeline-editor" href="/workflows/{wf}"' in section
    assert f'id="demo-pipeline-all-instances" href="/workflow-instances?workflow_id={wf}"' in section
    assert f'id="demo-pipeline-trigger" href="/workflows/{wf}/trigger"' in section
    assert f"curl -X POST -H 'Authorization: Bearer TOKEN' http://localhost/api/v1/workflows/{wf}/trigger" in section
    assert '<span class="mono">CRON 30 * * * * ?</span> <span class="muted">UTC</span> · overlap policy SKIP' in section

    setup = start_demo_jobs(demo_console.db, setup, webhook_url=WEBHOOK, now_ms=demo_console.clock.now_ms())
    first = setup.first_instance_id
    assert first is not None
    section = _section(client.get("/demo").get_data(as_text=True))
    assert "badge-enabled" in section and 'data-autorefresh="3000"' in section
    assert '<dd id="demo-pipeline-next"><time datetime="2026-01-01T00:00:30Z">' in section  # each minute at :30
    assert _rows(section) == [(first, "RUNNING", "WAITING", "WAITING")]
    assert f'<a href="/workflow-instances/{first}">#{first}</a>' in section

    # it ends with the invoices failed and compensated (the states are read, not assumed)
    _end(demo_console, first, WorkflowStatus.SUCCEEDED, {"extract": StepStatus.SUCCEEDED, "load_invoices": StepStatus.FAILED, "compensate_invoices": StepStatus.SUCCEEDED})
    assert _rows(_section(client.get("/demo").get_data(as_text=True))) == [(first, "SUCCEEDED", "FAILED", "SUCCEEDED")]

    with demo_console.db.session() as s:
        actor = actor_for_user(s, setup.user_id)
    assert actor is not None
    later = []
    for _ in range(5):  # triggered by hand, as the page says; each ends before the next (overlap SKIP)
        demo_console.clock.advance(1000)
        later.append(trigger_workflow(demo_console.db, actor, wf, None, now_ms=demo_console.clock.now_ms()))
        failed = invoices_fail(later[-1])
        _end(demo_console, later[-1], WorkflowStatus.SUCCEEDED, {
            "load_invoices": StepStatus.FAILED if failed else StepStatus.SUCCEEDED, "compensate_invoices": StepStatus.SUCCEEDED if failed else StepStatus.NOT_RUN,
        })  # fmt: skip
    rows = _rows(_section(client.get("/demo").get_data(as_text=True)))
    assert [row[0] for row in rows] == list(reversed(later))  # the latest five, newest first: the first is off the list
    expected = {i: ("SUCCEEDED", "FAILED", "SUCCEEDED") if invoices_fail(i) else ("SUCCEEDED", "SUCCEEDED", "NOT_RUN") for i in later}
    assert {row[0]: row[1:] for row in rows} == expected and ("SUCCEEDED", "FAILED", "SUCCEEDED") in expected.values()

    zh = _section(client.get("/demo", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True))
    assert "以工作流实现的夜间流水线" in zh and "立即执行一次…" in zh and "A nightly pipeline as a workflow" not in zh


def test_a_user_who_may_not_see_the_pipeline_group_is_told_it_is_not_here(demo_console: Console) -> None:
    _demo(demo_console)
    demo_console.add_user("bob", UserRole.USER)
    section = _section(demo_console.login("bob").get("/demo").get_data(as_text=True))
    assert 'id="demo-pipeline-missing"' in section and "its group is not one you may see" in section
    assert "/workflows/" not in section and 'id="demo-pipeline-instances"' not in section
    assert pipeline.WORKFLOW_NAME in section
