"""`shardcron import-xxljob` against a MariaDB database built from XXL-JOB's schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin.db import Database, init_schema
from shardcron.admin.xxljob_import.importer import apply_plan, plan_import
from shardcron.admin.xxljob_import.source import read_xxljob
from shardcron.admin.models import AuditEntry, ExecutorGroup, GlueVersion, Job, Workflow
from tests.support.cli import assert_one_line_error, run_cli
from tests.support.net import free_port
from tests.support.xxljob import create_xxljob_database

pytestmark = pytest.mark.mysql


def _target(db_url: str) -> Database:
    database = Database(db_url, pool_size=1)
    init_schema(database.engine)
    return database


def _groups(database: Database) -> dict[str, ExecutorGroup]:
    with database.read_session() as s:
        return {g.app_name: g for g in s.scalars(sa.select(ExecutorGroup))}


def _jobs(database: Database) -> dict[str, Job]:
    with database.read_session() as s:
        return {j.name: j for j in s.scalars(sa.select(Job))}


def test_import_carries_groups_and_jobs_over(xxljob_url: str, db_url: str, tmp_path: Path) -> None:
    create_xxljob_database(xxljob_url)
    database = _target(db_url)
    result = run_cli("import-xxljob", "--from", xxljob_url, "--url", db_url, "--timezone", "Europe/Berlin", home=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "groups: 3 created, 0 already in shardcron (left unchanged), 1 skipped" in out
    assert "jobs: 27 created, 0 already in shardcron (left unchanged), 2 skipped" in out

    groups = _groups(database)
    assert set(groups) == {"billing", "reports", "empty-manual"}
    assert groups["billing"].address_type == "AUTO" and groups["billing"].manual_addresses is None
    assert groups["reports"].address_type == "MANUAL"
    assert groups["reports"].manual_addresses == "http://10.0.0.5:9999\nhttp://10.0.0.6:9999"
    assert (groups["empty-manual"].address_type, groups["empty-manual"].manual_addresses) == ("AUTO", None)

    jobs = _jobs(database)
    assert len(jobs) == 27
    routes = {jobs[f"route {r}"].route_strategy.value for r in (
        "FIRST", "LAST", "ROUND", "RANDOM", "CONSISTENT_HASH", "LEAST_FREQUENTLY_USED", "LEAST_RECENTLY_USED", "FAILOVER", "BUSYOVER", "SHARDING_BROADCAST")}
    assert len(routes) == 10
    assert all(not jobs[f"route {r}"].enabled for r in ("FIRST", "LAST"))
    # XXL-JOB has no delivery setting: every job gets the default (an unconfirmed run is not re-sent).
    assert {job.delivery for job in jobs.values()} == {"AT_MOST_ONCE"}

    sync = jobs["sync orders"]
    assert (sync.schedule_type, sync.schedule_conf, sync.timezone) == ("CRON", "0 0 2 * * ? *", "Europe/Berlin")
    assert (sync.misfire_strategy, sync.block_strategy, sync.timeout_s, sync.retry_count) == ("FIRE_ONCE_NOW", "DISCARD_LATER", 30, 3)
    assert sync.alarm_emails == "a@example.com,b@example.com"
    assert sync.param == "full=1" and sync.handler == "demoHandler"
    assert sync.enabled and sync.next_fire_at_ms > 0
    assert sync.group_id == groups["billing"].id
    assert sync.child_job_ids == str(jobs["rate job"].id)  # 99 (missing), 11 (itself) and "x" dropped

    rate = jobs["rate job"]
    assert (rate.schedule_type, rate.schedule_conf, rate.block_strategy, rate.enabled) == ("FIX_RATE", "30", "COVER_EARLY", True)
    assert not jobs["manual only"].enabled and jobs["manual only"].schedule_type == "NONE"
    for name in ("bad cron", "fix delay", "bad rate"):
        assert (jobs[name].schedule_type, jobs[name].schedule_conf, jobs[name].enabled) == ("NONE", "", False), name
    weird = jobs["weird strategies"]
    assert (weird.route_strategy, weird.block_strategy, weird.misfire_strategy, weird.timeout_s, weird.retry_count) == (
        "FIRST", "SERIAL_EXECUTION", "DO_NOTHING", 0, 0)
    shell = jobs["shell script"]
    assert (shell.glue_type, shell.glue_source, shell.group_id) == ("GLUE_SHELL", "echo hello", groups["reports"].id)
    assert shell.glue_updated_at_ms == 1714550400000  # 2024-05-01 10:00 in Europe/Berlin (CEST)
    assert jobs["groovy script"].glue_type == "GLUE_GROOVY"
    # Each imported script is its job's first kept version, with XXL-JOB's remark as its note.
    with database.read_session() as s:
        kept = {v.job_id: v for v in s.scalars(sa.select(GlueVersion))}
    assert set(kept) == {jobs[name].id for name in ("shell script", "groovy script", "python script")}
    first = kept[shell.id]
    assert (first.remark, first.glue_source, first.author_name, first.author_user_id, first.created_at_ms) == (
        "first version", "echo hello", "import-xxljob", None, 1714550400000)
    assert kept[jobs["groovy script"].id].remark == "imported from XXL-JOB"
    assert not jobs["no handler"].enabled
    assert {"twin (xxl-job 21)", "twin (xxl-job 22)"} <= set(jobs)
    assert jobs["unknown glue"].glue_type == "BEAN" and not jobs["unknown glue"].enabled
    assert jobs["python script"].child_job_ids == str(jobs["route FIRST"].id)
    assert "orphan" not in jobs and "in skipped group" not in jobs
    assert jobs["loop a"].child_job_ids == str(jobs["loop b"].id) and jobs["loop b"].child_job_ids == ""
    assert (jobs["huge numbers"].timeout_s, jobs["huge numbers"].retry_count) == (7 * 24 * 3600, 100)

    # the report names every row and field that did not carry over
    for fragment in (
        "group 2 'reports': address_list='ftp://10.0.0.9/': dropped",
        "group 3 'bad app': app_name='bad app'",
        "group 4 'empty-manual': address_list=None: no usable address; imported as AUTO",
        "job 11 'sync orders': alarm_email='not-an-email': not an e-mail address; dropped",
        "job 11 'sync orders': child_jobid=99: no such job in the import",
        "job 11 'sync orders': child_jobid=11: the job itself",
        "job 11 'sync orders': child_jobid='x': not a job id",
        "job 14 'bad cron': schedule_conf='0 0 25 * * ?'",
        "job 14 'bad cron': trigger_status=1: was running; imported stopped",
        "job 15 'fix delay': schedule_type='FIX_DELAY': not supported",
        "job 16 'bad rate': schedule_conf='ten'",
        "job 17 'weird strategies': executor_route_strategy='WEIRD': unknown; imported as FIRST",
        "job 17 'weird strategies': executor_block_strategy='NOPE': unknown; imported as SERIAL_EXECUTION",
        "job 17 'weird strategies': misfire_strategy='LATER': unknown; imported as DO_NOTHING",
        "job 17 'weird strategies': executor_timeout=-5: negative",
        "job 17 'weird strategies': executor_fail_retry_count=-1: negative",
        "job 19 'groovy script': glue_type='GLUE_GROOVY': kept, but only XXL-JOB executors",
        "job 20 'no handler': executor_handler='': a BEAN job needs a handler",
        "job 21 'twin': job_desc='twin': shared by 2 jobs",
        "job 23 'orphan': job_group=99: no such executor group",
        "job 24 'in skipped group': job_group=3: its group was skipped",
        "job 25 'unknown glue': glue_type='GLUE_COBOL': unknown; imported as BEAN and stopped",
        "job 28 'loop b': child_jobid=27: would close a loop of child jobs",
        "job 29 'huge numbers': executor_timeout=10000000: above shardcron's limit; imported as 604800",
        "job 29 'huge numbers': executor_fail_retry_count=500: above shardcron's limit; imported as 100",
    ):
        assert fragment in out, fragment
    assert "job 1 'route FIRST'" not in out.split("not carried over")[1]  # a clean row has no note
    database.dispose()


def test_second_run_creates_nothing_and_keeps_edits(xxljob_url: str, db_url: str, tmp_path: Path) -> None:
    create_xxljob_database(xxljob_url)
    database = _target(db_url)
    first = run_cli("import-xxljob", "--from", xxljob_url, "--url", db_url, home=tmp_path)
    assert first.returncode == 0, first.stderr
    with database.session() as s:  # an operator edits an imported job
        s.execute(sa.update(Job).where(Job.name == "route LAST").values(handler="edited"))
    before = _jobs(database)
    second = run_cli("import-xxljob", "--from", xxljob_url, "--url", db_url, home=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "groups: 0 created, 3 already in shardcron (left unchanged), 1 skipped" in second.stdout
    assert "jobs: 0 created, 27 already in shardcron (left unchanged), 2 skipped" in second.stdout
    after = _jobs(database)
    assert {n: j.id for n, j in after.items()} == {n: j.id for n, j in before.items()}
    assert after["route LAST"].handler == "edited"
    # The first run's creations are in the audit trail as the command line's; the second added none.
    with database.read_session() as s:
        trail = s.execute(sa.select(AuditEntry.action, AuditEntry.actor_kind, AuditEntry.actor_name, AuditEntry.target_id)).all()
    assert sorted((action, kind, name) for action, kind, name, _ in trail) == sorted(
        [("group.create", "CLI", "import-xxljob")] * 3 + [("job.create", "CLI", "import-xxljob")] * 27
    )
    assert {target for action, _, _, target in trail if action == "job.create"} == {j.id for j in after.values()}
    database.dispose()


def test_dry_run_writes_nothing(xxljob_url: str, db_url: str, tmp_path: Path) -> None:
    create_xxljob_database(xxljob_url)
    database = _target(db_url)
    result = run_cli("import-xxljob", "--from", xxljob_url, "--url", db_url, "--dry-run", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "jobs: 27 would create" in result.stdout
    assert "job 14 'bad cron': schedule_conf=" in result.stdout
    assert "dry run: nothing was written" in result.stdout
    assert _groups(database) == {} and _jobs(database) == {}
    database.dispose()


def test_stopped_imports_every_job_stopped(xxljob_url: str, sqlite_url: str, tmp_path: Path) -> None:
    create_xxljob_database(xxljob_url)
    database = _target(sqlite_url)
    result = run_cli("import-xxljob", "--from", xxljob_url, "--url", sqlite_url, "--stopped", home=tmp_path)
    assert result.returncode == 0, result.stderr
    jobs = _jobs(database)
    assert len(jobs) == 27 and not any(j.enabled or j.next_fire_at_ms for j in jobs.values())
    database.dispose()


def test_a_failure_while_writing_leaves_nothing_behind(xxljob_url: str, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    create_xxljob_database(xxljob_url)
    database = _target(db_url)
    snapshot = read_xxljob(xxljob_url)
    with database.read_session() as s:
        plan = plan_import(s, snapshot, timezone="UTC", now_ms=1_700_000_000_000)
    plan.jobs[-1].draft.values["no_such_column"] = 1  # the last job cannot be written
    with pytest.raises(TypeError):
        with database.session() as s:
            apply_plan(s, plan, now_ms=1_700_000_000_000)
    assert _groups(database) == {} and _jobs(database) == {}
    database.dispose()


def test_existing_group_is_reused(xxljob_url: str, sqlite_url: str, tmp_path: Path) -> None:
    create_xxljob_database(xxljob_url)
    database = _target(sqlite_url)
    with database.session() as s:
        s.add(ExecutorGroup(app_name="billing", title="Billing (kept)", address_type="AUTO", created_at_ms=1, updated_at_ms=1))
    result = run_cli("import-xxljob", "--from", xxljob_url, "--url", sqlite_url, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "groups: 2 created, 1 already in shardcron" in result.stdout
    groups = _groups(database)
    assert groups["billing"].title == "Billing (kept)"
    assert _jobs(database)["sync orders"].group_id == groups["billing"].id
    database.dispose()


def test_missing_tables_are_one_error_line(xxljob_url: str, sqlite_url: str, tmp_path: Path) -> None:
    result = run_cli("import-xxljob", "--from", xxljob_url, "--url", sqlite_url, home=tmp_path)
    assert_one_line_error(result, "has no table xxl_job_group", "XXL-JOB")


def test_xxljob_before_2_3_is_refused(xxljob_url: str, sqlite_url: str, tmp_path: Path) -> None:
    create_xxljob_database(xxljob_url, rows=False)
    engine = sa.create_engine(xxljob_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE xxl_job_info DROP COLUMN schedule_type")
    engine.dispose()
    result = run_cli("import-xxljob", "--from", xxljob_url, "--url", sqlite_url, home=tmp_path)
    assert_one_line_error(result, "before 2.3 is not supported")


def test_xxljob_35_column_names_are_read(xxljob_url: str, sqlite_url: str, tmp_path: Path) -> None:
    create_xxljob_database(xxljob_url)
    engine = sa.create_engine(xxljob_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE xxl_job_group CHANGE title name varchar(64) NOT NULL")
        conn.exec_driver_sql("ALTER TABLE xxl_job_group ADD COLUMN access_token varchar(255) DEFAULT NULL")
        conn.exec_driver_sql("UPDATE xxl_job_group SET access_token = 'group-secret-token' WHERE id = 1")
        conn.exec_driver_sql("ALTER TABLE xxl_job_info CHANGE job_desc name varchar(255) NOT NULL")
    engine.dispose()
    database = _target(sqlite_url)
    result = run_cli("import-xxljob", "--from", xxljob_url, "--url", sqlite_url, home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "XXL-JOB 3.5 database" in result.stdout
    assert "group 1 'billing': access_token='***': per-group tokens are not carried over" in result.stdout
    assert "group-secret-token" not in result.stdout
    assert _groups(database)["billing"].title == "Billing"
    assert "sync orders" in _jobs(database)
    database.dispose()


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("sqlite:///tmp/x.db", ("XXL-JOB keeps its tables in MySQL",)),
        ("not a url", ("is not a database URL",)),
        ("mysql+pymysql://root@127.0.0.1:3306", ("names no database",)),
    ],
)
def test_bad_source_url_is_one_error_line(source: str, words: tuple[str, ...], sqlite_url: str, tmp_path: Path) -> None:
    assert_one_line_error(run_cli("import-xxljob", "--from", source, "--url", sqlite_url, home=tmp_path), *words)


def test_unreachable_source_is_one_error_line(sqlite_url: str, tmp_path: Path) -> None:
    source = f"mysql+pymysql://root:pw@127.0.0.1:{free_port()}/xxl_job"
    result = run_cli("import-xxljob", "--from", source, "--url", sqlite_url, home=tmp_path)
    assert_one_line_error(result, "cannot reach the server")
    assert ":pw@" not in result.stderr


def test_bad_timezone_is_one_error_line(xxljob_url: str, sqlite_url: str, tmp_path: Path) -> None:
    create_xxljob_database(xxljob_url)
    result = run_cli("import-xxljob", "--from", xxljob_url, "--url", sqlite_url, "--timezone", "Mars/Olympus", home=tmp_path)
    assert_one_line_error(result, "--timezone", "Mars/Olympus")


def test_every_imported_job_and_group_passes_the_console_rules(xxljob_url: str, sqlite_url: str, tmp_path: Path) -> None:
    """What the import writes can be opened and saved unchanged in the console (same validation)."""
    from shardcron.admin.services.actor import SYSTEM_ACTOR
    from shardcron.admin.services.groups import update_group
    from shardcron.admin.services.jobs import update_job

    create_xxljob_database(xxljob_url)
    database = _target(sqlite_url)
    assert run_cli("import-xxljob", "--from", xxljob_url, "--url", sqlite_url, home=tmp_path).returncode == 0
    with database.session() as s:
        for group in s.scalars(sa.select(ExecutorGroup)).all():
            update_group(s, SYSTEM_ACTOR, group.id, {}, now_ms=1_800_000_000_000)
        # the two BEAN jobs without a handler are reported as needing one: the console asks for it too
        for job in s.scalars(sa.select(Job).where(Job.name.not_in(["no handler", "unknown glue"]))).all():
            update_job(s, SYSTEM_ACTOR, job.id, {}, now_ms=1_800_000_000_000)
    database.dispose()


def test_child_jobs_as_workflows(xxljob_url: str, db_url: str, tmp_path: Path) -> None:
    """Each chain of child jobs becomes a workflow of SUCCESS edges holding its first job's
    schedule; the jobs keep no child ids, and the root no schedule of its own."""
    create_xxljob_database(xxljob_url)
    database = _target(db_url)
    result = run_cli("import-xxljob", "--from", xxljob_url, "--url", db_url, "--timezone", "Europe/Berlin", "--child-jobs-as-workflows", home=tmp_path)
    assert result.returncode == 0, result.stderr
    jobs = _jobs(database)
    assert all(job.child_job_ids == "" for job in jobs.values())
    with database.read_session() as s:
        flows = {w.name: w for w in s.scalars(sa.select(Workflow))}
        audited = sorted(e.action for e in s.scalars(sa.select(AuditEntry)) if e.action.startswith("workflow."))
    assert set(flows) == {"sync orders (chain)", "python script (chain)", "loop a (chain)"}
    sync = flows["sync orders (chain)"]
    assert json.loads(sync.definition_json) == {
        "steps": [{"key": "job-11", "job_id": jobs["sync orders"].id}, {"key": "job-12", "job_id": jobs["rate job"].id}],
        "edges": [{"from": "job-11", "to": "job-12", "on": "SUCCESS"}],
    }
    assert (sync.schedule_type, sync.schedule_conf, sync.timezone, sync.misfire_strategy) == ("CRON", "0 0 2 * * ? *", "Europe/Berlin", "FIRE_ONCE_NOW")
    assert sync.enabled and sync.next_fire_at_ms > 0 and sync.group_id == jobs["sync orders"].group_id
    # the chain's first job is fired by the workflow only
    assert (jobs["sync orders"].schedule_type, jobs["sync orders"].enabled, jobs["sync orders"].next_fire_at_ms) == ("NONE", False, 0)
    assert jobs["rate job"].enabled  # a child with its own schedule keeps it
    loop = json.loads(flows["loop a (chain)"].definition_json)
    assert [step["job_id"] for step in loop["steps"]] == [jobs["loop a"].id, jobs["loop b"].id]  # the loop back was dropped
    assert audited.count("workflow.create") == 3
    assert "moved with its child jobs to workflow 'sync orders (chain)'" in result.stdout
    assert f"child jobs of xxl-job 11 -> workflow {sync.id} 'sync orders (chain)': 2 steps (enabled)" in result.stdout, result.stdout
    # a second run creates nothing more
    again = run_cli("import-xxljob", "--from", xxljob_url, "--url", db_url, "--child-jobs-as-workflows", home=tmp_path)
    assert again.returncode == 0, again.stderr
    with database.read_session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Workflow)) == 3
    database.dispose()
