"""The Demo page: registered only in the admin `shardcron demo` starts (`demo_control_url` set).

It tells the two recipes' stories with links to their runs, and has the batch recipe's kill
button. It tells the workflow "nightly-pipeline"'s story too, with what the database holds of it
now (demo_pipeline.py): its schedule, its latest instances and their states, links to its editor,
its instances and its trigger form; the page refreshes that part by itself while the workflow is
scheduled or an instance runs. The button asks the demo's supervisor (control.py, on 127.0.0.1, with the token the demo
made for this run) to SIGKILL the executor process running the batch; the supervisor decides
which of its own children that is, so the request names no process. Logged-in admins only, CSRF
checked like every console form; the kill is audited (`run.executor_kill`) once it is done — a
killed process is not part of a transaction, so the entry follows it.
"""

from __future__ import annotations

import requests
import sqlalchemy as sa
from flask import Blueprint, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..auth import require_actor, require_admin
from ..demo import pipeline, recipes
from ..demo.control import KILL_PATH
from ..enums import AuditAction, AuditTarget
from ..models import ExecutorGroup, Job
from ..services import audit
from .context import admin_ctx, now_ms
from .demo_pipeline import read_demo_pipeline

bp = Blueprint("demo", __name__)
#: How often the page refreshes the workflow's part while it is scheduled or an instance runs.
REFRESH_MS = 3000

#: The supervisor's reasons for refusing a kill, in the reader's language.
REFUSED = {
    "no_running_batch": _l("No run of the batch is running: trigger the job “%(job)s” (it pauses at item 5,000), then kill its executor."),
    "executor_not_ours": _l("The batch's run is not on one of the demo's batch executors (its executor was killed already): press Repair now on its page."),
    "executor_gone": _l("The executor running the batch was killed already and is not back yet: press Repair now on the run's page."),
}


@bp.app_context_processor
def _demo_nav() -> dict[str, bool]:
    return {"demo_panel": True}


def _job_ids() -> dict[str, int]:
    """The recipes' jobs by name (the demo created them; a user may have renamed or deleted one)."""
    names = {recipes.SHIFT_JOB: recipes.SHIFT_APP, "create work orders": recipes.SHIFT_APP, recipes.BATCH_JOB: recipes.BATCH_APP}
    with admin_ctx().db.read_session() as session:
        rows = session.execute(
            sa.select(Job.name, Job.id, ExecutorGroup.app_name).join(ExecutorGroup, ExecutorGroup.id == Job.group_id).where(Job.name.in_(list(names)))
        )
        return {name: job_id for name, job_id, app_name in rows if names[name] == app_name}


@bp.get("/demo")
@require_actor
def demo_page():
    with admin_ctx().db.read_session() as session:
        found = read_demo_pipeline(session, g.actor, now_ms=now_ms())
    return render_template(
        "demo.html", jobs=_job_ids(), batch_job=recipes.BATCH_JOB, shift_job=recipes.SHIFT_JOB, can_kill=g.actor.is_admin,
        pipeline=found, workflow_name=pipeline.WORKFLOW_NAME, pipeline_app=pipeline.PIPELINE_APP, refresh_ms=REFRESH_MS if found and found.active else None,
    )  # fmt: skip


@bp.post("/demo/kill-batch-executor")
@require_admin
def kill_batch_executor():
    ctx = admin_ctx()
    url, token = ctx.config.demo_control_url, ctx.config.demo_control_token
    assert url is not None  # the blueprint is registered only with it
    try:
        answer = requests.post(url.rstrip("/") + KILL_PATH, headers={"Authorization": f"Bearer {token}"}, timeout=15)
        body = answer.json()
    except (requests.RequestException, ValueError):
        flash(_("The demo's supervisor did not answer: is shardcron demo still running?"), "error")
        return redirect(url_for("demo.demo_page"))
    if answer.status_code != 200 or not isinstance(body, dict) or "run_id" not in body:
        reason = body.get("reason") if isinstance(body, dict) else None
        message = REFUSED.get(str(reason))
        flash(str(message) % {"job": recipes.BATCH_JOB} if message else _("The demo's supervisor refused the kill (HTTP %(status)s).", status=answer.status_code), "error")
        return redirect(url_for("demo.demo_page"))
    run_id, job_id = int(body["run_id"]), int(body["job_id"])
    with ctx.db.session() as session:
        job = session.get(Job, job_id)
        audit.record(
            session, g.actor, AuditAction.RUN_EXECUTOR_KILL, AuditTarget.RUN, target_id=run_id, target_name=job.name if job else "",
            group_id=job.group_id if job else None, after={"executor": body["executor"], "pid": body["pid"], "address": body["address"], "job_id": job_id},
            now_ms=now_ms(),
        )  # fmt: skip
    flash(
        _(
            "Executor %(name)s (pid %(pid)s, %(address)s) was killed with SIGKILL while running this run; the demo starts it again in "
            "%(seconds)s s. Press Repair now to resume the run from its checkpoint on the other executor.",
            name=body["executor"], pid=body["pid"], address=body["address"], seconds=body["restart_in_s"],
        ),
        "success",
    )  # fmt: skip
    return redirect(url_for("web.run_detail", run_id=run_id))
