"""The script editor and the narrow-screen cards, as the server sends them: the job form loads
the console's own editor script (no CDN, the strict CSP on every answer), the textarea stays the
form field, the editor knows every job type the form offers, and the tables that become cards
on phones name each cell. On SQLite and MariaDB."""

from __future__ import annotations

import re
from pathlib import Path

from shardcron.admin.auth.headers import CONTENT_SECURITY_POLICY
from shardcron.admin.enums import UserRole
from shardcron.admin.models import Job
from shardcron.admin.services import jobs
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.core.protocol import GlueType
from tests.support import admin_data as data
from tests.admin.web.test_script_rights import job_form
from tests.support.console import Console, post_form

WEB = Path(__file__).resolve().parents[3] / "admin" / "web"
EDITOR_JS = WEB / "static" / "code_editor.js"


def _glue_job(console: Console) -> int:
    console.add_user("root", UserRole.ADMIN)
    gid = data.add_group(console.db, "ops")
    with console.db.session() as s:
        return jobs.create_job(s, SYSTEM_ACTOR, {"group_id": gid, "name": "nightly", "schedule_type": "NONE", "glue_type": "GLUE_PYTHON", "glue_source": "print('<b>')\n"}, now_ms=data.NOW).id


def test_the_job_form_wraps_the_script_field_in_the_editor_and_loads_it_from_the_console(console: Console) -> None:
    job_id = _glue_job(console)
    root = console.login("root")
    for path in (f"/jobs/{job_id}", "/jobs/new"):
        response = root.get(path)
        assert response.status_code == 200
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
        html = response.get_data(as_text=True)
        assert '<script src="/assets/code_editor.js" defer></script>' in html
        box = re.search(r'<div class="code-editor" data-code-editor data-language-from="f-glue_type">\s*<textarea id="f-glue_source" name="glue_source"[^>]*>', html)
        assert box, path  # the textarea itself is posted: the form works without the script
        assert 'aria-describedby="script-keys"' in box.group(0) and 'id="script-keys"' in html
    assert "print(&#39;&lt;b&gt;&#39;)" in root.get(f"/jobs/{job_id}").get_data(as_text=True)


def test_the_editor_script_and_styles_are_served_with_the_csp(console: Console) -> None:
    client = console.client()
    script = client.get("/assets/code_editor.js")
    assert script.status_code == 200
    assert script.mimetype in ("text/javascript", "application/javascript")
    assert script.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert script.headers["X-Content-Type-Options"] == "nosniff"
    body = script.get_data(as_text=True)
    assert "innerHTML" not in body and "eval(" not in body  # text goes in with textContent only
    css = client.get("/assets/console.css").get_data(as_text=True)
    rules = (".code-editor-live textarea", "pre.code-view .line::before", "table.diff td.ln::before", "table.cards td[data-label]::before")
    assert [rule for rule in rules if rule not in css] == []


def test_the_editor_highlights_every_script_type_the_form_offers(console: Console) -> None:
    _glue_job(console)
    form = console.login("root").get("/jobs/new").get_data(as_text=True)
    select = re.search(r'<select id="f-glue_type"[^>]*>(.*?)</select>', form, re.S).group(1)
    offered = set(re.findall(r'<option value="(\w+)"', select))
    assert GlueType.BEAN.value in offered
    source = EDITOR_JS.read_text(encoding="utf-8")
    mapping = re.search(r"const GLUE_LANGUAGES = \{(.*?)\};", source, re.S).group(1)
    known = dict(re.findall(r'(GLUE_\w+): "(\w+)"', mapping))
    languages = set(re.findall(r"^    (\w+): ", source, re.M))  # the keys of LANGUAGES
    assert set(known) == offered - {GlueType.BEAN.value}  # BEAN has no script
    assert set(known.values()) <= languages


def test_every_cell_of_a_card_table_is_labelled() -> None:
    for name in ("jobs.html", "runs.html", "dashboard.html", "run_detail.html", "job_versions.html"):
        text = (WEB / "templates" / name).read_text(encoding="utf-8")
        table = re.search(r'<table[^>]*class="[^"]*\bcards\b[^"]*"[^>]*>(.*?)</table>', text, re.S)
        assert table, name
        body = table.group(1).split("<tbody>", 1)[1]
        cells = re.findall(r"<td\b[^>]*>", body)
        assert cells, name
        unlabelled = [cell for cell in cells if "data-label=" not in cell and "actions" not in cell]
        assert unlabelled == [], name


def test_a_script_posted_with_crlf_line_ends_is_kept_with_lf(console: Console) -> None:
    # Browsers post a textarea's lines ending in CRLF; "then\r" would not run in a shell.
    job_id = _glue_job(console)
    gid = data.add_group(console.db, "other")
    root = console.login("root")
    form = job_form(gid, name="nightly", glue_type="GLUE_SHELL", glue_source="if true; then\r\n  echo hi\r\nfi\r\n", glue_remark="from a browser")
    assert post_form(root, f"/jobs/{job_id}", form).status_code == 302
    with console.db.read_session() as s:
        assert s.get(Job, job_id).glue_source == "if true; then\n  echo hi\nfi\n"
    page = root.get(f"/jobs/{job_id}/versions").get_data(as_text=True)
    source = re.search(r'<pre class="mono code-view" id="source"[^>]*>(.*?)</pre>', page, re.S).group(1)
    assert source == '<span class="line">if true; then</span>\n<span class="line">  echo hi</span>\n<span class="line">fi</span>'
