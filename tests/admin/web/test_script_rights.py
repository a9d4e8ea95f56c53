"""The console: a USER without the script right sees the script read-only, cannot save one by
posting the fields anyway (403, nothing written), still edits the rest; versions, diffs and
rollback pages; admins grant the right on the user page. On SQLite and MariaDB."""

from __future__ import annotations

import re

import sqlalchemy as sa

from shardcron.admin.enums import UserRole
from shardcron.admin.models import GlueVersion, Job, User, UserGroupGrant
from shardcron.admin.services import jobs
from shardcron.admin.services.actor import SYSTEM_ACTOR
from tests.support import admin_data as data
from tests.support.console import Console, post_form

SHELL = "#!/bin/sh\nid\n"


def job_form(group_id: int, **over: str) -> dict[str, str]:
    """Every field the job page posts when the script is read-only (no glue_type, glue_source)."""
    form = {
        "name": "script", "group_id": str(group_id), "author": "", "schedule_type": "NONE", "schedule_conf": "", "timezone": "UTC",
        "misfire_strategy": "DO_NOTHING", "delivery": "AT_MOST_ONCE", "overlap_policy": "ALLOW_ALL", "jitter_s": "0", "route_strategy": "FIRST", "block_strategy": "SERIAL_EXECUTION",
        "handler": "", "param": "", "timeout_s": "0", "retry_count": "0", "retry_delay_s": "10", "retry_backoff_multiplier": "2",
        "retry_max_delay_s": "600", "alarm_emails": "", "alarm_webhook": "", "child_job_ids": "",
    }
    return {**form, **over}


def rows(console: Console) -> tuple:
    with console.db.read_session() as s:
        return (
            tuple(s.execute(sa.select(Job.id, Job.name, Job.glue_type, Job.glue_source, Job.updated_at_ms).order_by(Job.id)).all()),
            tuple(s.execute(sa.select(GlueVersion.id, GlueVersion.glue_source).order_by(GlueVersion.id)).all()),
        )


def world(console: Console) -> tuple[int, int]:
    console.add_user("root", UserRole.ADMIN)
    gid = data.add_group(console.db, "ops")
    with console.db.session() as s:
        glue = jobs.create_job(s, SYSTEM_ACTOR, {"group_id": gid, "name": "nightly", "schedule_type": "NONE", "glue_type": "GLUE_SHELL", "glue_source": "echo <b>admin</b>\n"}, now_ms=data.NOW).id
    return gid, glue


def test_without_the_right_the_script_is_read_only_and_posting_it_anyway_is_403(console: Console) -> None:
    gid, glue = world(console)
    console.add_user("eve", UserRole.USER, [gid])
    eve = console.login("eve")
    html = eve.get(f"/jobs/{glue}").get_data(as_text=True)
    textarea = re.search(r'<textarea id="f-glue_source"[^>]*>', html).group(0)
    assert "readonly" in textarea and "name=" not in textarea
    assert "echo &lt;b&gt;admin&lt;/b&gt;" in html and 'id="script-read-only"' in html
    assert '<select id="f-glue_type"' not in html and 'name="glue_type"' not in html and 'name="glue_remark"' not in html
    new_page = eve.get("/jobs/new").get_data(as_text=True)
    assert 'name="glue_source"' not in new_page and 'name="glue_type"' not in new_page

    before = rows(console)
    attacks = [
        (f"/jobs/{glue}", job_form(gid, name="nightly", glue_type="GLUE_SHELL", glue_source=SHELL)),
        (f"/jobs/{glue}", job_form(gid, name="nightly", glue_type="GLUE_PYTHON")),
        ("/jobs/new", job_form(gid, glue_type="GLUE_SHELL", glue_source=SHELL)),
        ("/jobs/new", job_form(gid, handler="h", glue_source=SHELL)),
    ]
    for path, form in attacks:
        response = post_form(eve, path, form)
        assert response.status_code == 403, (path, form)
        assert "may run scripts" in response.get_data(as_text=True)
    with console.db.read_session() as s:
        first = s.scalar(sa.select(GlueVersion.id))
    assert post_form(eve, f"/jobs/{glue}/versions/{first}/rollback", {}).status_code == 403
    copy = post_form(eve, f"/jobs/{glue}/copy", {})
    assert copy.status_code == 302  # refused with a message on the page it came from
    assert rows(console) == before

    # The form as the page sends it (no script fields) saves the other fields; the script stays.
    saved = post_form(eve, f"/jobs/{glue}", job_form(gid, name="renamed nightly", timeout_s="30"))
    assert saved.status_code == 302, saved.get_data(as_text=True)
    with console.db.read_session() as s:
        job = s.get(Job, glue)
        assert (job.name, job.timeout_s, job.glue_type, job.glue_source) == ("renamed nightly", 30, "GLUE_SHELL", "echo <b>admin</b>\n")
        assert s.scalar(sa.select(sa.func.count()).select_from(GlueVersion)) == 1


def test_with_the_right_the_script_is_editable_and_versions_show_the_diff(console: Console) -> None:
    gid, glue = world(console)
    console.add_user("eve", UserRole.USER, [gid])
    root = console.login("root")
    eve_id = _user_id(console, "eve")
    granted = post_form(root, f"/users/{eve_id}", {"action": "scripts", "script_group_ids": str(gid)})
    assert granted.status_code == 302
    assert f'id="s-{gid}" name="script_group_ids" value="{gid}" checked' in root.get(f"/users/{eve_id}").get_data(as_text=True)

    eve = console.login("eve")
    html = eve.get(f"/jobs/{glue}").get_data(as_text=True)
    assert '<textarea id="f-glue_source" name="glue_source"' in html and 'name="glue_remark"' in html
    saved = post_form(eve, f"/jobs/{glue}", job_form(gid, name="nightly", glue_type="GLUE_SHELL", glue_source="echo <b>admin</b>\necho eve\n", glue_remark="add eve"))
    assert saved.status_code == 302, saved.get_data(as_text=True)

    page = eve.get(f"/jobs/{glue}/versions").get_data(as_text=True)
    assert "add eve" in page and "eve" in page
    # The diff as numbered rows: (kind, line before, line after, text), the text escaped.
    table = re.search(r'<table class="mono diff" id="diff">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r'<tr class="diff-(\w+)"><td class="ln" data-n="(\d*)"></td><td class="ln" data-n="(\d*)"></td><td class="code">(.*?)</td></tr>', table)
    assert rows[-3:] == [("hunk", "", "", "@@ -1 +1,2 @@"), ("same", "1", "1", " echo &lt;b&gt;admin&lt;/b&gt;"), ("add", "", "2", "+echo eve")]
    assert [kind for kind, *_ in rows[:2]] == ["file", "file"]
    source = re.search(r'<pre class="mono code-view" id="source" data-code-view data-glue-type="GLUE_SHELL">(.*?)</pre>', page, re.S).group(1)
    assert source == '<span class="line">echo &lt;b&gt;admin&lt;/b&gt;</span>\n<span class="line">echo eve</span>'
    with console.db.read_session() as s:
        first = s.scalar(sa.select(sa.func.min(GlueVersion.id)))
    back = post_form(eve, f"/jobs/{glue}/versions/{first}/rollback", {})
    assert back.status_code == 302
    with console.db.read_session() as s:
        assert s.get(Job, glue).glue_source == "echo <b>admin</b>\n"
        assert s.scalar(sa.select(sa.func.count()).select_from(GlueVersion)) == 3
    assert eve.get(f"/jobs/{glue}/versions?version=99999999999999999999999").status_code == 404
    assert eve.get(f"/jobs/{glue}/versions?version=٣").status_code == 404


def test_only_admins_reach_the_script_right_form(console: Console) -> None:
    gid, glue = world(console)
    console.add_user("eve", UserRole.USER, [gid])
    eve_id = _user_id(console, "eve")
    eve = console.login("eve")
    assert post_form(eve, f"/users/{eve_id}", {"action": "scripts", "script_group_ids": str(gid)}).status_code == 403
    other = data.add_group(console.db, "other")
    root = console.login("root")
    refused = post_form(root, f"/users/{eve_id}", {"action": "scripts", "script_group_ids": str(other)})
    assert refused.status_code == 400 and "grant the group first" in refused.get_data(as_text=True)
    assert post_form(root, f"/users/{eve_id}", {"action": "scripts", "script_group_ids": "x"}).status_code == 400
    with console.db.read_session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(UserGroupGrant).where(UserGroupGrant.may_run_scripts)) == 0


def _user_id(console: Console, name: str) -> int:
    with console.db.read_session() as s:
        return s.scalar(sa.select(User.id).where(User.username == name))
