"""/api/v1: a run's `planned_at_ms` is the planned time it ran for (its logDateTime): a retry
keeps the one of the run it re-ran; any other run's equals its fire_at_ms."""

from __future__ import annotations

from shardcron.admin.enums import RunStatus, TriggerType
from tests.admin.api.conftest import AdminApp, Api
from tests.support.admin_data import NOW, add_job, add_run

DAY = 86_400_000


def test_a_retry_shows_the_planned_time_it_kept(admin_app: AdminApp, admin: Api) -> None:
    group = admin.post("/groups", json={"app_name": "planned-app"}).get_json()["id"]
    job = add_job(admin_app.db, group)
    first = add_run(admin_app.db, job, group, status=RunStatus.FAILED, trigger_type=TriggerType.BACKFILL, fire_at_ms=NOW - 3 * DAY)
    retried = add_run(admin_app.db, job, group, status=RunStatus.RUNNING, trigger_type=TriggerType.RETRY, attempt=1, planned_at_ms=NOW - 3 * DAY)
    plain, retry = admin.get(f"/runs/{first}").get_json(), admin.get(f"/runs/{retried}").get_json()
    assert (plain["fire_at_ms"], plain["planned_at_ms"]) == (NOW - 3 * DAY, NOW - 3 * DAY)
    assert (retry["fire_at_ms"], retry["planned_at_ms"]) == (NOW, NOW - 3 * DAY)
    listed = {r["id"]: r["planned_at_ms"] for r in admin.get(f"/runs?job_id={job}").get_json()["items"]}
    assert listed == {first: NOW - 3 * DAY, retried: NOW - 3 * DAY}
