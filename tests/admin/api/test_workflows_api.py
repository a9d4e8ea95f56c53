"""/api/v1/workflows: the round trip, bad input as 400s naming the field (never a 500),
group scoping, the 409s, and the editor's preview."""

from __future__ import annotations

import pytest

from shardcron.admin.enums import UserRole
from tests.admin.api.conftest import AdminApp, Api
from tests.support.admin_data import NOW, add_group, add_job


@pytest.fixture
def world(admin_app: AdminApp) -> dict:
    gid = add_group(admin_app.db, "etl")
    other = add_group(admin_app.db, "hr")
    jobs = [add_job(admin_app.db, gid, name) for name in ("extract", "load", "report")]
    return {"gid": gid, "other": other, "jobs": jobs, "hidden": add_job(admin_app.db, other, "salaries")}


def body(world: dict, **over) -> dict:
    extract, load, report = world["jobs"]
    data = {
        "group_id": world["gid"], "name": "nightly", "schedule_type": "CRON", "schedule_conf": "0 30 1 * * ?", "timezone": "UTC",
        "definition": {
            "steps": [{"key": "extract", "job_id": extract}, {"key": "load", "job_id": load, "param": "{{upstream.extract.file}}"}, {"key": "report", "job_id": report}],
            "edges": [{"from": "extract", "to": "load"}, {"from": "load", "to": "report", "on": "FAILURE"}],
        },
    }
    data.update(over)
    return data


def test_round_trip(admin: Api, world: dict) -> None:
    created = admin.post("/workflows", json=body(world))
    assert created.status_code == 201, created.get_json()
    wf = created.get_json()
    assert wf["version"] == 1 and wf["step_count"] == 3 and wf["enabled"] is False
    assert wf["definition"]["edges"][1] == {"from": "load", "to": "report", "on": "FAILURE"}
    assert admin.get(f"/workflows/{wf['id']}").get_json() == wf
    changed = admin.put(f"/workflows/{wf['id']}", json={"timeout_s": 600, "overlap_policy": "SKIP"})
    assert changed.status_code == 200 and changed.get_json()["version"] == 2 and changed.get_json()["overlap_policy"] == "SKIP"
    started = admin.post(f"/workflows/{wf['id']}/start").get_json()
    assert started["enabled"] and started["next_fire_at_ms"] == NOW + 90 * 60_000
    assert admin.post(f"/workflows/{wf['id']}/stop").get_json()["next_fire_at_ms"] == 0
    copy = admin.post(f"/workflows/{wf['id']}/copy", json={"name": "nightly b"})
    assert copy.status_code == 201 and copy.get_json()["definition"] == wf["definition"]
    listed = admin.get("/workflows?name=b").get_json()
    assert [w["name"] for w in listed["items"]] == ["nightly b"] and listed["total"] == 1
    assert admin.get(f"/workflows?group_id={world['other']}").get_json()["total"] == 0
    assert admin.delete(f"/workflows/{copy.get_json()['id']}").status_code == 204
    assert admin.get(f"/workflows/{copy.get_json()['id']}").status_code == 404


BAD = [
    ({"definition": {"steps": "x"}}, "steps"),
    ({"definition": {"steps": [{"key": "a", "job_id": 1}], "edges": [{"from": "a", "to": "a"}]}}, "edges[0]"),
    ({"definition": {"steps": [{"key": "a", "job_id": 1}, {"key": "b", "job_id": 1}], "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]}}, "edges"),
    ({"definition": {"steps": [{"key": "a", "job_id": 1}], "edges": [{"from": "a", "to": "nope", "on": "SOMETIMES"}]}}, "edges[0].on"),
    ({"definition": {"steps": [{"key": "a", "job_id": 1.5}]}}, "steps[0].job_id"),
    ({"definition": {"steps": [{"key": "a", "job_id": 2**70}]}}, "steps[0].job_id"),
    ({"definition": {"steps": [{"key": "a", "job_id": True}]}}, "steps[0].job_id"),
    ({"definition": {"steps": [{"key": "a", "job_id": 1, "param": ["x"]}]}}, "steps[0].param"),
    ({"definition": {"steps": [{"key": "a", "job_id": 1, "param": "{{nope}}"}]}}, "steps[0].param"),
    ({"definition": {"steps": [{"key": "a", "job_id": 1, "extra": 1}]}}, "steps[0]"),
    ({"definition": {"steps": [None]}}, "steps[0]"),
    ({"definition": []}, "definition"),
    ({"definition": {"steps": [{"key": "a", "job_id": 1}], "extra": 1}}, "definition"),
    ({"name": None}, "name"),
    ({"group_id": "abc"}, "group_id"),
    ({"timeout_s": 10**12}, "timeout_s"),
    ({"misfire_strategy": "CATCH_UP_ALL"}, "misfire_strategy"),
    ({"overlap_policy": "DISCARD_LATER"}, "overlap_policy"),
    ({"schedule_conf": "* * *"}, "schedule_conf"),
    ({"alarm_emails": {"a": 1}}, "alarm_emails"),
    ({"alarm_emails": "not-an-address"}, "alarm_emails"),
    ({"alarm_webhook": "ftp://hooks.example.com/x"}, "alarm_webhook"),
    ({"alarm_webhook": ["https://hooks.example.com/x"]}, "alarm_webhook"),
    ({"alarm_webhook": "https://hooks.example.com/" + "x" * 600}, "alarm_webhook"),
]


@pytest.mark.parametrize(("change", "field"), BAD)
def test_bad_input_is_a_400_naming_the_field(admin: Api, world: dict, change: dict, field: str) -> None:
    response = admin.post("/workflows", json=body(world, **change))
    assert response.status_code == 400, response.get_json()
    assert field in response.get_json()["error"]["fields"], response.get_json()
    assert admin.get("/workflows").get_json()["total"] == 0


def test_alarm_settings_round_trip_and_a_user_may_not_set_a_new_webhook(admin_app: AdminApp, admin: Api, world: dict) -> None:
    created = admin.post("/workflows", json=body(world, alarm_emails="ops@example.com; oncall@example.com", alarm_webhook="https://hooks.example.com/wf"))
    assert created.status_code == 201, created.get_json()
    wf = created.get_json()
    assert (wf["alarm_emails"], wf["alarm_webhook"]) == (["ops@example.com", "oncall@example.com"], "https://hooks.example.com/wf")
    assert admin.get(f"/workflows/{wf['id']}").get_json()["alarm_emails"] == ["ops@example.com", "oncall@example.com"]
    ann = admin_app.user("ann", UserRole.USER, groups=[world["gid"]])
    refused = ann.put(f"/workflows/{wf['id']}", json={"alarm_webhook": "https://elsewhere.example.com/x"})
    assert refused.status_code == 400 and "only an admin" in refused.get_json()["error"]["fields"]["alarm_webhook"]
    kept = ann.put(f"/workflows/{wf['id']}", json={"alarm_emails": [], "description": "mine"})  # keeps the admin's webhook, clears the e-mails
    assert kept.status_code == 200, kept.get_json()
    assert (kept.get_json()["alarm_emails"], kept.get_json()["alarm_webhook"]) == ([], "https://hooks.example.com/wf")


def test_a_user_sees_and_uses_their_groups_only(admin_app: AdminApp, admin: Api, world: dict) -> None:
    ann = admin_app.user("ann", UserRole.USER, groups=[world["gid"]])
    hidden = body(world, definition={"steps": [{"key": "pay", "job_id": world["hidden"]}]})
    refused = ann.post("/workflows", json=hidden)
    assert refused.status_code == 400
    assert "may not see" in refused.get_json()["error"]["fields"]["steps[0].job_id"] and "salaries" not in refused.get_data(as_text=True)
    theirs = admin.post("/workflows", json=body(world, name="payroll", group_id=world["other"], definition=hidden["definition"])).get_json()
    assert ann.get(f"/workflows/{theirs['id']}").status_code == 404
    assert ann.put(f"/workflows/{theirs['id']}", json={"description": "x"}).status_code == 404
    assert ann.get("/workflows").get_json()["total"] == 0


def test_deleting_a_job_a_workflow_runs_is_a_409(admin: Api, world: dict) -> None:
    admin.post("/workflows", json=body(world))
    response = admin.delete(f"/jobs/{world['jobs'][2]}")
    assert response.status_code == 409 and "nightly" in response.get_json()["error"]["message"]


def test_preview_lays_out_what_was_typed_with_its_problems(admin: Api, world: dict) -> None:
    good = admin.post("/workflows/preview", json={"definition": body(world)["definition"], "schedule_type": "CRON", "schedule_conf": "0 30 1 * * ?", "timezone": "UTC"})
    assert good.status_code == 200
    preview = good.get_json()
    assert preview["problems"] == {}
    assert [n["key"] for n in preview["layout"]["nodes"]] == ["extract", "load", "report"]
    assert [n["layer"] for n in preview["layout"]["nodes"]] == [0, 1, 2]
    assert preview["layout"]["edges"][1]["on"] == "FAILURE" and preview["layout"]["edges"][1]["d"].startswith("M")
    assert preview["job_names"] == {"extract": "extract", "load": "load", "report": "report"}
    assert preview["fire_times_ms"][0] == NOW + 90 * 60_000 and len(preview["fire_times_ms"]) == 5
    broken = admin.post("/workflows/preview", json={"definition": {"steps": [{"key": "a", "job_id": world["jobs"][0]}, {"key": "b", "job_id": 99}],
                                                                   "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "a"}]},
                                                    "schedule_type": "CRON", "schedule_conf": "bad"}).get_json()
    assert set(broken["problems"]) == {"steps[1].job_id", "edges", "schedule_conf"}
    assert "cycle" in broken["problems"]["edges"]
    assert len(broken["layout"]["nodes"]) == 2 and [e["backward"] for e in broken["layout"]["edges"]] == [False, True]
    assert broken["job_names"] == {"a": "extract"}
    for bad in ({}, {"definition": {}, "colour": 1}):
        response = admin.post("/workflows/preview", json=bad)
        assert response.status_code == 400 and response.get_json()["error"]["fields"]
