"""The REST API refuses script writes from a USER without the script right (403, nothing written),
reports the right on every job (`can_edit_script`), serves versions and diffs, rolls back, and
lets only admins grant the right."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shardcron.admin.models import GlueVersion, Job
from tests.admin.api.conftest import AdminApp, Api

SHELL = "#!/bin/sh\nid\n"


def rows(admin_app: AdminApp) -> tuple:
    with admin_app.db.read_session() as s:
        return (
            tuple(s.execute(sa.select(Job.id, Job.name, Job.glue_type, Job.glue_source, Job.updated_at_ms).order_by(Job.id)).all()),
            tuple(s.execute(sa.select(GlueVersion.id, GlueVersion.glue_source).order_by(GlueVersion.id)).all()),
        )


def setup_world(admin_app: AdminApp, admin: Api) -> dict[str, Any]:
    group = admin.post("/groups", json={"app_name": "ops"}).get_json()["id"]
    bean = admin.post("/jobs", json={"group_id": group, "name": "bean", "schedule_type": "NONE", "handler": "h"}).get_json()
    glue = admin.post("/jobs", json={"group_id": group, "name": "glue", "schedule_type": "NONE", "glue_type": "GLUE_SHELL", "glue_source": "echo admin\n", "glue_remark": "by root"}).get_json()
    eve = admin_app.user("eve", groups=[group])
    return {"group": group, "bean": bean["id"], "glue": glue["id"], "eve": eve}


def test_a_user_without_the_right_gets_403_and_nothing_is_written(admin_app: AdminApp, admin: Api) -> None:
    w = setup_world(admin_app, admin)
    eve: Api = w["eve"]
    version = admin.get(f"/jobs/{w['glue']}/glue-versions").get_json()["items"][0]["id"]
    before = rows(admin_app)
    attacks = [
        ("post", "/jobs", {"group_id": w["group"], "name": "pwn", "schedule_type": "NONE", "glue_type": "GLUE_SHELL", "glue_source": SHELL}),
        ("post", "/jobs", {"group_id": w["group"], "name": "pwn", "schedule_type": "NONE", "glue_type": "GLUE_GROOVY", "glue_source": "'id'.execute()"}),
        ("patch", f"/jobs/{w['glue']}", {"glue_source": SHELL}),
        ("patch", f"/jobs/{w['bean']}", {"glue_type": "GLUE_SHELL", "glue_source": SHELL}),
        ("patch", f"/jobs/{w['glue']}", {"glue_type": "GLUE_NODEJS"}),
        ("post", f"/jobs/{w['glue']}/copy", {}),
        ("post", f"/jobs/{w['glue']}/glue-versions/{version}/rollback", None),
    ]
    for method, path, body in attacks:
        response = getattr(eve, method)(path, json=body)
        assert response.status_code == 403, (method, path, response.get_json())
        error = response.get_json()["error"]
        assert "may run scripts" in error["message"], error
    assert rows(admin_app) == before
    # She still sees the script, and is told she may not change it.
    job = eve.get(f"/jobs/{w['glue']}").get_json()
    assert (job["glue_source"], job["can_edit_script"]) == ("echo admin\n", False)
    assert admin.get(f"/jobs/{w['glue']}").get_json()["can_edit_script"] is True
    # The other fields of the script job stay hers to change.
    renamed = eve.patch(f"/jobs/{w['glue']}", json={"name": "renamed", "glue_source": "echo admin\n"})
    assert renamed.status_code == 200 and renamed.get_json()["name"] == "renamed"


def test_granted_the_right_a_user_writes_scripts_and_versions_show_the_diff(admin_app: AdminApp, admin: Api) -> None:
    w = setup_world(admin_app, admin)
    eve: Api = w["eve"]
    refused = eve.patch(f"/users/{eve.user_id}", json={"script_group_ids": [w["group"]]})
    assert refused.status_code == 403
    granted = admin.patch(f"/users/{eve.user_id}", json={"script_group_ids": [w["group"]]})
    assert granted.status_code == 200 and granted.get_json()["script_group_ids"] == [w["group"]]
    assert eve.get(f"/jobs/{w['glue']}").get_json()["can_edit_script"] is True
    changed = eve.patch(f"/jobs/{w['glue']}", json={"glue_source": "echo admin\necho eve\n", "glue_remark": "add a line"})
    assert changed.status_code == 200, changed.get_json()
    listed = eve.get(f"/jobs/{w['glue']}/glue-versions").get_json()["items"]
    assert [(v["remark"], v["author_name"]) for v in listed] == [("add a line", "eve"), ("by root", "root")]
    detail = eve.get(f"/jobs/{w['glue']}/glue-versions/{listed[0]['id']}").get_json()
    assert detail["previous_id"] == listed[1]["id"] and detail["glue_source"] == "echo admin\necho eve\n"
    assert detail["diff"].endswith("@@ -1 +1,2 @@\n echo admin\n+echo eve\n")
    back = eve.post(f"/jobs/{w['glue']}/glue-versions/{listed[1]['id']}/rollback")
    assert back.status_code == 200 and back.get_json()["glue_source"] == "echo admin\n"
    assert eve.get(f"/jobs/{w['glue']}/glue-versions").get_json()["items"][0]["remark"] == f"rollback to version {listed[1]['id']}"
    created = eve.post("/jobs", json={"group_id": w["group"], "name": "mine", "schedule_type": "NONE", "glue_type": "GLUE_PYTHON", "glue_source": "print(1)"})
    assert created.status_code == 201


def test_bad_script_grant_requests_are_4xx_with_the_field(admin_app: AdminApp, admin: Api) -> None:
    w = setup_world(admin_app, admin)
    other = admin.post("/groups", json={"app_name": "other"}).get_json()["id"]
    uid = w["eve"].user_id
    for body in ({"script_group_ids": [other]}, {"script_group_ids": "1"}, {"script_group_ids": [True]}, {"script_group_ids": [2**70]}):
        response = admin.patch(f"/users/{uid}", json=body)
        assert response.status_code == 400, (body, response.get_json())
        assert "script_group_ids" in response.get_json()["error"]["fields"], body
    # Granting the group and its script right in one request works.
    both = admin.patch(f"/users/{uid}", json={"group_ids": [w["group"], other], "script_group_ids": [other]})
    assert both.status_code == 200 and both.get_json()["script_group_ids"] == [other]


def test_versions_of_unknown_or_hidden_jobs_are_404(admin_app: AdminApp, admin: Api) -> None:
    w = setup_world(admin_app, admin)
    hidden_group = admin.post("/groups", json={"app_name": "hidden"}).get_json()["id"]
    hidden = admin.post("/jobs", json={"group_id": hidden_group, "name": "h", "schedule_type": "NONE", "glue_type": "GLUE_SHELL", "glue_source": "x"}).get_json()["id"]
    hidden_version = admin.get(f"/jobs/{hidden}/glue-versions").get_json()["items"][0]["id"]
    eve: Api = w["eve"]
    assert eve.get(f"/jobs/{hidden}/glue-versions").status_code == 404
    assert eve.get(f"/jobs/{w['glue']}/glue-versions/{hidden_version}").status_code == 404
    assert admin.get(f"/jobs/{w['glue']}/glue-versions/{hidden_version}").status_code == 404
    assert admin.post(f"/jobs/{w['glue']}/glue-versions/{hidden_version}/rollback").status_code == 404
    assert admin.get(f"/jobs/{w['glue']}/glue-versions/99999999999999999999").status_code == 404
