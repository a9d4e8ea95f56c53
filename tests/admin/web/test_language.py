"""The console in English and 简体中文: which language a request gets (saved choice > `lang`
cookie > Accept-Language > English), the header's switch (CSRF-protected, saved on the account,
a cookie for anyone, not audited, a 400 for an unknown language), every console page rendered in
Chinese with no marked English string left, and the REST API staying English."""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import RunStatus, TriggerType, UserRole
from shardcron.admin.models import AuditEntry, User
from shardcron.admin.services import api_tokens, users
from tests.admin.web.test_translations import marked_messages
from tests.support import admin_data as data
from tests.support.console import Console, page_csrf, post_form

ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


def _lang(html: str) -> str:
    match = re.search(r'<html lang="([^"]+)">', html)
    assert match, "page has no <html lang>"
    return match.group(1)


def _locale_of(console: Console, username: str) -> str | None:
    with console.db.read_session() as s:
        return s.scalar(sa.select(User.locale).where(User.username == username))


def _audit_count(console: Console) -> int:
    with console.db.read_session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) or 0


def test_the_browser_language_decides_until_someone_chooses(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    client = console.client()
    assert _lang(client.get("/login").get_data(as_text=True)) == "en"
    for header, lang in [("zh-CN,zh;q=0.9", "zh-CN"), ("zh-TW", "zh-CN"), ("zh", "zh-CN"), ("fr-FR, en;q=0.5", "en"), ("fr", "en"), ("de, zh;q=0.1", "zh-CN")]:
        page = client.get("/login", headers={"Accept-Language": header}).get_data(as_text=True)
        assert _lang(page) == lang, header
    zh = client.get("/login", headers=ZH).get_data(as_text=True)
    assert "<h1>登录</h1>" in zh and "账号" in zh and "Log in" not in zh


def test_an_anonymous_switch_sets_a_cookie_that_beats_the_browser(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    client = console.client()
    switched = post_form(client, "/account/language", {"locale": "zh", "next": "/login"}, csrf_from="/login")
    assert switched.status_code == 302 and switched.headers["Location"] == "/login"
    cookie = switched.headers["Set-Cookie"]
    assert cookie.startswith("lang=zh;") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert _lang(client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)) == "zh-CN"
    back = post_form(client, "/account/language", {"locale": "en"}, csrf_from="/login")
    assert back.headers["Location"] == "/login"  # no `next`: where an anonymous visitor starts
    assert _lang(client.get("/login", headers=ZH).get_data(as_text=True)) == "en"


def test_a_signed_in_choice_is_saved_on_the_account_and_beats_cookie_and_browser(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    before = _audit_count(console)
    client = console.login("root")
    assert _lang(client.get("/", headers=ZH).get_data(as_text=True)) == "zh-CN"  # nothing saved: the browser's
    response = post_form(client, "/account/language", {"locale": "zh", "next": "/runs?status=FAILED"})
    assert response.status_code == 302 and response.headers["Location"] == "/runs?status=FAILED"
    assert _locale_of(console, "root") == "zh"
    # Another browser, English, with an English cookie: the account's choice wins once logged in.
    other = console.login("root")
    other.set_cookie("lang", "en")
    page = other.get("/jobs", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert _lang(page) == "zh-CN" and "<h1>任务管理</h1>" in page
    post_form(other, "/account/language", {"locale": "en", "next": "https://evil.example/"})
    assert _locale_of(console, "root") == "en"
    assert _lang(client.get("/jobs", headers=ZH).get_data(as_text=True)) == "en"
    # A preference, not a change: the audit trail has nothing new (login is not audited either).
    assert _audit_count(console) == before


def test_the_switch_needs_the_csrf_token_and_a_known_language(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    client = console.login("root")
    assert client.post("/account/language", data={"locale": "zh"}).status_code == 403
    assert client.post("/account/language", data={"locale": "zh", "csrf_token": "forged"}).status_code == 403
    assert _locale_of(console, "root") is None
    token = page_csrf(client, "/account")
    for bad in ["", "fr", "ZH", "zh-CN", "en;", "x" * 5000, "zh\u202e"]:
        response = client.post("/account/language", data={"locale": bad, "csrf_token": token})
        assert response.status_code == 400, bad
        assert "Unknown language: choose one of en, zh." in response.get_data(as_text=True)
    assert client.post("/account/language", data={"csrf_token": token}).status_code == 400
    assert client.post("/account/language", data={"locale": "zh\x00", "csrf_token": token}).status_code == 400
    zh_client = console.client()
    answer = zh_client.post("/account/language", data={"locale": "xx", "csrf_token": page_csrf(zh_client, "/login")}, headers=ZH)
    assert answer.status_code == 400 and "未知的语言" in answer.get_data(as_text=True)
    assert _locale_of(console, "root") is None


def test_the_rest_api_stays_english_whatever_the_language(console: Console) -> None:
    root_id = console.add_user("root", UserRole.ADMIN)
    post_form(console.login("root"), "/account/language", {"locale": "zh"})
    with console.db.session() as s:
        _view, token = api_tokens.issue_token(s, users.actor_for_user(s, root_id), root_id, "ci", now_ms=console.clock.now_ms())
    api = console.client()
    headers = {**ZH, "Authorization": f"Bearer {token}"}
    missing = api.get("/api/v1/jobs/999999", headers=headers)
    assert missing.status_code == 404 and missing.get_json()["error"]["message"].isascii()
    cookie = console.client()
    cookie.set_cookie("lang", "zh")
    refused = cookie.get("/api/v1/jobs", headers=ZH)
    assert refused.status_code == 401 and refused.get_json()["error"]["message"].isascii()


class _Texts(HTMLParser):
    """The text a person reads on a page: text nodes and the attributes a browser shows."""

    SHOWN_ATTRIBUTES = {"title", "placeholder", "aria-label", "data-confirm", "value"}

    def __init__(self) -> None:
        super().__init__()
        self.texts: set[str] = set()
        self.js_texts: dict[str, str] = {}
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._skip += 1
        for name, value in attrs:
            if name == "data-texts" and value:
                self.js_texts = json.loads(value)
            elif value and name in self.SHOWN_ATTRIBUTES and not (name == "value" and tag in ("input", "button", "option")):
                # A field's, a button's or an option's value is data sent with the form, not text shown.
                self.texts.add(value.strip())

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, text):
        if not self._skip and text.strip():
            self.texts.add(" ".join(text.split()))


def _shown(html: str) -> _Texts:
    parser = _Texts()
    parser.feed(html)
    return parser


def _patterns() -> dict[str, re.Pattern[str]]:
    """Each marked English string as a pattern over one text node (placeholders match anything)."""
    patterns = {}
    for msgid in marked_messages():
        parts = re.split(r"%\([a-z_]+\)[sd]|\{[a-z_]+\}", msgid)
        if re.fullmatch(r"[A-Z_]+", msgid) or (len(parts) > 1 and len("".join(parts).strip()) < 8):
            # Codes (SUCCESS, MANUAL, ADMIN) are data too (audit values, address types), and a
            # short text around a value ("job 7") cannot be told from data: not checked here.
            continue
        patterns[msgid] = re.compile(".+?".join(re.escape(" ".join(p.split())) for p in parts))
    return patterns


def _english_left(html: str, patterns: dict[str, re.Pattern[str]]) -> set[str]:
    shown = _shown(html)
    return {msgid for msgid, pattern in patterns.items() for text in shown.texts if pattern.fullmatch(text)}


def _fill(console: Console) -> tuple[int, int, list[int], int]:
    """A console with something on every page: groups, live executors, jobs with script
    versions, runs of every status, a daily report, users, tokens and audit entries."""
    console.add_user("root", UserRole.ADMIN)
    root = console.login("root")
    billing = data.add_group(console.db, "billing")
    data.add_group(console.db, "reports", manual=["http://10.0.0.7:9999/"])
    data.add_executor(console.db, "billing", "http://10.0.0.5:9999")
    job = data.add_job(console.db, billing, "nightly", route_strategy="SHARDING_BROADCAST", author="ops")
    form = {
        "name": "nightly", "group_id": str(billing), "author": "ops", "schedule_type": "CRON", "schedule_conf": "0 0 2 * * ?",
        "timezone": "Asia/Shanghai", "misfire_strategy": "DO_NOTHING", "delivery": "AT_MOST_ONCE", "overlap_policy": "ALLOW_ALL", "jitter_s": "0", "route_strategy": "SHARDING_BROADCAST",
        "block_strategy": "SERIAL_EXECUTION", "handler": "", "glue_type": "GLUE_SHELL", "glue_source": "echo one", "param": "", "timeout_s": "0",
        "retry_count": "1", "retry_delay_s": "10", "retry_backoff_multiplier": "2", "retry_max_delay_s": "600", "alarm_emails": "ops@example.com",
        "alarm_webhook": "", "child_job_ids": "", "glue_remark": "first",
    }  # fmt: skip
    assert post_form(root, f"/jobs/{job}", form).status_code == 302
    assert post_form(root, f"/jobs/{job}", {**form, "glue_source": "echo two", "glue_remark": "take two"}).status_code == 302
    now = console.clock.now_ms()
    runs = [
        data.add_run(console.db, job, billing, status=RunStatus.SUCCESS, trigger_at_ms=now - 60_000, executor_address="http://10.0.0.5:9999",
                     handle_at_ms=now - 50_000, handle_code=200, result_json=json.dumps({"claimed": 12, "succeeded": 10, "retried": 1, "dead": 1})),
        data.add_run(console.db, job, billing, status=RunStatus.FAILED, trigger_at_ms=now - 40_000, executor_address="http://10.0.0.5:9999",
                     handle_at_ms=now - 30_000, handle_code=500, handle_msg="boom", trigger_type=TriggerType.RETRY, attempt=1),
        data.add_run(console.db, job, billing, status=RunStatus.UNKNOWN, trigger_at_ms=now - 20_000, trigger_msg="delivery not confirmed", trigger_type=TriggerType.MANUAL),
        data.add_run(console.db, job, billing, status=RunStatus.RUNNING, trigger_at_ms=now - 10_000, executor_address="http://10.0.0.5:9999", progress_done=12, progress_total=600),
    ]  # fmt: skip
    data.add_daily(console.db, dt.date(2025, 12, 31), billing, success=7, failed=2)
    bob = console.add_user("bob", UserRole.USER, [billing])
    assert post_form(root, "/account", {"action": "issue_token", "token_name": "laptop", "expires_in_days": "30"}).status_code == 200
    calendar = {"name": "holidays", "timezone": "UTC", "description": "office", "entries": "2026-12-24..2026-12-26 office closed"}
    assert post_form(root, "/calendars/new", calendar).status_code == 302
    flow = {"name": "flow", "group_id": str(billing), "schedule_type": "NONE", "timezone": "UTC", "misfire_strategy": "DO_NOTHING", "overlap_policy": "ALLOW_ALL",
            "timeout_s": "0", "step_key": ["a", "b"], "step_job": [str(job), str(job)], "step_param": ["", ""], "step_join": ["ALL", "ANY"],
            "edge_from": ["a"], "edge_to": ["b"], "edge_on": ["FAILURE"]}
    assert post_form(root, "/workflows/new", flow).status_code == 302
    return billing, job, runs, bob


def _pages(billing: int, job: int, runs: list[int], bob: int) -> list[str]:
    return [
        "/", "/?days=30", "/groups", "/groups/new", f"/groups/{billing}", "/jobs", "/jobs?q=nothing", "/jobs/new", f"/jobs/{job}",
        f"/jobs/{job}/trigger", f"/jobs/{job}/versions", "/runs", "/runs?status=FAILED&from=yesterday", *[f"/runs/{r}" for r in runs],
        "/audit", "/audit?actor=nobody", "/users", f"/users/{bob}", "/account", "/jobs/999999", "/calendars", "/calendars/new", "/calendars/1",
        "/workflows", "/workflows/new", "/workflows/1",
    ]


def test_every_console_page_in_chinese_leaves_no_marked_english(console: Console) -> None:
    ids = _fill(console)
    root = console.login("root")
    patterns = _patterns()
    english: dict[str, set[str]] = {}
    for path in _pages(*ids):
        html = root.get(path).get_data(as_text=True)
        assert _lang(html) == "en", path
        element_ids = re.findall(r'\sid="([^"]+)"', html)
        assert len(element_ids) == len(set(element_ids)), (path, sorted({i for i in element_ids if element_ids.count(i) > 1}))  # a label finds one field
        english[path] = _english_left(html, patterns)
    seen = set().union(*english.values())
    assert len(seen) > 200, "the English walk should find most marked strings (is the filled database empty?)"

    post_form(root, "/account/language", {"locale": "zh"})
    left: dict[str, set[str]] = {}
    js_english = set(_shown(root.get("/").get_data(as_text=True)).js_texts.values())
    for path in _pages(*ids):
        response = root.get(path)
        html = response.get_data(as_text=True)
        assert response.status_code < 500 and _lang(html) == "zh-CN", path
        found = _english_left(html, patterns)
        if found:
            left[path] = found
        js = _shown(html).js_texts
        assert js and not set(js.values()) & {"Log complete.", "no upcoming fire", "log unavailable"}, path
    assert left == {}, "English left on Chinese pages"
    assert js_english  # console.js's own texts come from the page too

    jobs = root.get("/jobs").get_data(as_text=True)
    for term in ("任务管理", "执行器管理", "调度日志", "分片广播", "执行一次", "下次调度时间"):
        assert term in jobs, term
    form = root.get(f"/jobs/{ids[1]}").get_data(as_text=True)
    for term in ("路由策略", "阻塞处理策略", "运行模式", "负责人", "报警邮件", "单机串行", "调度过期策略"):
        assert term in form, term
    runs_page = root.get("/runs").get_data(as_text=True)
    for term in ("失败重试触发", "手动触发", ">成功</span>", ">失败</span>", ">结果未知</span>", ">运行中</span>"):
        assert term in runs_page, term
    assert "页面不存在" in root.get("/jobs/999999").get_data(as_text=True)


def test_setup_and_flash_messages_in_chinese(console: Console) -> None:
    client = console.client()
    client.set_cookie("lang", "zh")
    code = console.setup_code()
    setup = client.get("/setup").get_data(as_text=True)
    assert "欢迎使用 shardcron" in setup and "初始化码" in setup and "Welcome" not in setup
    form = {"code": code, "username": "root", "password": "p" * 12, "password_again": "q" * 12}
    refused = post_form(client, "/setup", form, csrf_from="/setup")
    assert refused.status_code == 400 and "两次输入的密码不一致" in refused.get_data(as_text=True)
    created = post_form(client, "/setup", {**form, "password_again": "p" * 12}, csrf_from="/setup")
    assert created.status_code == 302
    assert "管理员 root 已创建，您已登录。" in client.get(created.headers["Location"]).get_data(as_text=True)
    assert post_form(client, "/logout", {}, csrf_from="/groups").status_code == 302
    wrong = post_form(client, "/login", {"username": "root", "password": "nope-nope-nope"}, csrf_from="/login")
    assert wrong.status_code == 401 and "账号或密码错误" in wrong.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/jobs", "/login"])
def test_english_stays_the_default(console: Console, path: str) -> None:
    console.add_user("root", UserRole.ADMIN)
    client = console.login("root") if path != "/login" else console.client()
    html = client.get(path).get_data(as_text=True)
    assert _lang(html) == "en" and "中文" in html and "English" in html  # the switch names each language in itself


def test_service_validation_messages_follow_the_viewer_and_the_api_stays_english(console: Console) -> None:
    root_id = console.add_user("root", UserRole.ADMIN)
    root = console.login("root")
    billing = data.add_group(console.db, "billing")
    form = {
        "name": "", "group_id": str(billing), "author": "", "schedule_type": "CRON", "schedule_conf": "0 0 32 * *", "timezone": "Mars/Base",
        "misfire_strategy": "DO_NOTHING", "delivery": "AT_MOST_ONCE", "overlap_policy": "ALLOW_ALL", "jitter_s": "0", "route_strategy": "FIRST", "block_strategy": "SERIAL_EXECUTION",
        "handler": "demo", "glue_type": "BEAN", "glue_source": "", "param": "", "timeout_s": "0", "retry_count": "1", "retry_delay_s": "10",
        "retry_backoff_multiplier": "2", "retry_max_delay_s": "5", "alarm_emails": "not-an-address", "alarm_webhook": "", "child_job_ids": "",
    }  # fmt: skip
    english = post_form(root, "/jobs/new", form)
    shown = " ".join(_shown(english.get_data(as_text=True)).texts)
    assert english.status_code == 400
    for text in ("day-of-month 32 is out of range 1-31 in '0 0 32 * *'", "'not-an-address' is not an e-mail address", "must not be shorter than retry_delay_s"):
        assert text in shown, text

    post_form(root, "/account/language", {"locale": "zh"})
    chinese = post_form(root, "/jobs/new", form)
    shown = " ".join(_shown(chinese.get_data(as_text=True)).texts)
    assert chinese.status_code == 400
    for text in ("日 32 超出范围 1-31（Cron 表达式 '0 0 32 * *'）", "'not-an-address' 不是邮箱地址", "不能短于 retry_delay_s", "必填", "任务未保存：5 个字段有误（name：必填; timezone："):
        assert text in shown, text
    for english_text in ("is out of range", "is not an e-mail address", "must not be shorter", "invalid field", "is required"):
        assert english_text not in shown, english_text
    preview = root.get("/jobs/preview", query_string={"schedule_type": "CRON", "schedule_conf": "0 0 32 * *", "timezone": "UTC"})
    assert preview.get_json()["error"] == "日 32 超出范围 1-31（Cron 表达式 '0 0 32 * *'）"

    # The same services behind the REST API answer in English for every client; the field names
    # (the machine-readable part) are the same in both.
    with console.db.session() as s:
        _view, token = api_tokens.issue_token(s, users.actor_for_user(s, root_id), root_id, "ci", now_ms=console.clock.now_ms())
    body = {key: value for key, value in form.items() if key not in ("group_id", "timeout_s", "retry_count", "retry_delay_s", "retry_backoff_multiplier", "retry_max_delay_s")}
    answer = console.client().post("/api/v1/jobs", json={**body, "group_id": billing, "retry_delay_s": 10, "retry_max_delay_s": 5}, headers={**ZH, "Authorization": f"Bearer {token}"})
    error = answer.get_json()["error"]
    assert answer.status_code == 400 and error["message"].isascii() and error["message"].startswith("job not saved: 5 invalid fields (name: is required; timezone: ")
    assert error["fields"] == {
        "name": "is required",
        "schedule_conf": "day-of-month 32 is out of range 1-31 in '0 0 32 * *'",
        "timezone": "'Mars/Base' is not an IANA time zone name (e.g. UTC, Europe/Berlin)",
        "retry_max_delay_s": "must not be shorter than retry_delay_s",
        "alarm_emails": "'not-an-address' is not an e-mail address",
    }
