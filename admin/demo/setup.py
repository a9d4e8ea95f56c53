"""The demo's database: a login made for this run, the demo's executor group and jobs, a group
with its jobs for each recipe the demo shows (recipes.py), and the workflow "nightly-pipeline"
with its group and jobs (pipeline.py)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

import sqlalchemy as sa

from ..db import Database, init_schema
from ..enums import TriggerType, UserRole
from ..models import ExecutorRegistry
from ..services.api_tokens import issue_token
from ..services.groups import create_group
from ..services.jobs import create_job, start_job
from ..services.triggers import trigger_job
from ..services.users import actor_for_user, create_user
from ..services.workflow_runs import trigger_workflow
from ..services.workflows import create_workflow, start_workflow
from .pipeline import pipeline_fields, pipeline_group
from .recipes import RecipeGroup, recipe_groups

APP_NAME = "shardcron-demo"
USERNAME = "demo"
DRAINER_HANDLER = "retryTaskDrainer"  # shardcron.executor.retry_tasks.DRAINER_HANDLER
WORKFLOW_MAX_STEPS = 1000  # config workflow_max_steps' default; the demo's workflow has 6


@dataclass(frozen=True)
class DemoSetup:
    username: str
    password: str
    group_id: int
    jobs: dict[str, int]  # name -> id, the recipes' jobs included
    user_id: int
    #: A REST API token of the demo login (named "demo"), printed once like the password.
    api_token: str
    #: The workflow "nightly-pipeline", and its first instance once `start_demo_jobs` started it.
    workflow_id: int = 0
    first_instance_id: int | None = None


def demo_jobs(webhook_url: str) -> list[tuple[dict, bool, bool]]:
    """(job fields, start it, trigger it once now) for each demo job."""
    return [
        (
            {"name": "hello every 10 s", "handler": "hello", "param": "from the demo", "schedule_type": "CRON",
             "schedule_conf": "*/10 * * * * ?", "route_strategy": "ROUND"},
            True, False,
        ),
        (
            {"name": "retry-task drainer", "handler": DRAINER_HANDLER, "param": "budget_s=3 batch=100 concurrency=4",
             "schedule_type": "FIX_RATE", "schedule_conf": "5", "route_strategy": "SHARDING_BROADCAST",
             # A second drain of a shard does no harm (each row is claimed under a lease): send it again.
             "block_strategy": "DISCARD_LATER", "delivery": "AT_LEAST_ONCE"},
            True, False,
        ),
        (
            {"name": "always fails (retries, webhook alarm)", "handler": "alwaysFail", "schedule_type": "FIX_RATE",
             "schedule_conf": "60", "retry_count": 2, "retry_delay_s": 3, "retry_backoff_multiplier": 2,
             "alarm_webhook": webhook_url},
            True, True,
        ),
        (
            {"name": "long job (watch it, kill it)", "handler": "longJob", "param": "600", "schedule_type": "NONE",
             "schedule_conf": ""},
            False, True,
        ),
        (
            {"name": "flaky every 15 s", "handler": "flaky", "param": "0.3", "schedule_type": "FIX_RATE",
             "schedule_conf": "15", "retry_count": 1, "retry_delay_s": 2},
            True, False,
        ),
    ]


def other_groups() -> list[RecipeGroup]:
    """The groups besides the demo's own: the recipes' and the workflow's."""
    return [*recipe_groups(), pipeline_group()]


def all_jobs(webhook_url: str) -> list[tuple[str, tuple[dict, bool, bool]]]:
    """(group app name, (job fields, start it, trigger it once now)) for every job of the demo."""
    return [(APP_NAME, job) for job in demo_jobs(webhook_url)] + [(group.app_name, job) for group in other_groups() for job in group.jobs]


def prepare_demo(db: Database, *, webhook_url: str, now_ms: int) -> DemoSetup:
    """Create the schema, the demo login (a random password and an API token, printed once), the
    groups and the jobs (stopped until `start_demo_jobs`)."""
    init_schema(db.engine)
    password = secrets.token_urlsafe(12)
    with db.session() as session:
        user = create_user(session, None, USERNAME, password, UserRole.ADMIN, now_ms=now_ms)
        actor = actor_for_user(session, user.id)
        assert actor is not None
        group = create_group(session, actor, {"app_name": APP_NAME, "title": "shardcron demo"}, now_ms=now_ms)
        group_ids = {APP_NAME: group.id}
        for recipe in other_groups():
            group_ids[recipe.app_name] = create_group(session, actor, {"app_name": recipe.app_name, "title": recipe.title}, now_ms=now_ms).id
        jobs = {
            fields["name"]: create_job(session, actor, {**fields, "group_id": group_ids[app_name], "author": USERNAME}, now_ms=now_ms).id
            for app_name, (fields, _, _) in all_jobs(webhook_url)
        }
        pipeline = pipeline_group()
        workflow = create_workflow(session, actor, pipeline_fields(group_ids[pipeline.app_name], jobs, USERNAME), now_ms=now_ms, max_steps=WORKFLOW_MAX_STEPS)
        _, api_token = issue_token(session, actor, user.id, USERNAME, now_ms=now_ms)
    return DemoSetup(USERNAME, password, group.id, jobs, user.id, api_token, workflow.id)


def registered_executors(db: Database, now_ms: int) -> dict[str, int]:
    """app name -> executors with a recent heartbeat."""
    with db.read_session() as session:
        rows = session.execute(
            sa.select(ExecutorRegistry.app_name, sa.func.count()).where(ExecutorRegistry.heartbeat_at_ms > now_ms - 90_000).group_by(ExecutorRegistry.app_name)
        )
        return {app_name: count for app_name, count in rows}


def start_demo_jobs(db: Database, setup: DemoSetup, *, webhook_url: str, now_ms: int) -> DemoSetup:
    """Start the scheduled jobs and trigger the long job, the failing job, the work orders' creation
    and the batch right away (once the executors are there, so the first runs have somewhere to go);
    start the workflow's schedule and trigger its first instance. Returns `setup` with that
    instance's id."""
    with db.session() as session:
        actor = actor_for_user(session, setup.user_id)
        assert actor is not None
        for _, (fields, start, trigger_now) in all_jobs(webhook_url):
            job_id = setup.jobs[fields["name"]]
            if start:
                start_job(session, actor, job_id, now_ms=now_ms)
            if trigger_now:
                trigger_job(session, actor, job_id, now_ms=now_ms, trigger_type=TriggerType.MANUAL)
        start_workflow(session, actor, setup.workflow_id, now_ms=now_ms)
    # Its own transactions (trigger_workflow opens them): the first instance, not waiting a minute.
    instance_id = trigger_workflow(db, actor, setup.workflow_id, None, now_ms=now_ms)
    return replace(setup, first_instance_id=instance_id)
