"""One time format in the console: `YYYY-MM-DD HH:MM:SS` on a 24-hour clock with the zone as a
UTC offset, in the viewer's zone (the `tz` cookie console.js keeps), the same in console.js, and
filter inputs typed as `YYYY-MM-DD HH:MM` rather than the browser's mm/dd/yyyy."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from shardcron.admin.enums import RunStatus, UserRole
from shardcron.admin.web.times import format_instant, zone_label
from tests.support import admin_data as data
from tests.support.console import Console

STATIC = Path(__file__).resolve().parents[3] / "admin" / "web" / "static"
AT_MS = 1_767_225_600_000 - 3_600_000  # 2025-12-31T23:00:00Z


def test_zone_labels() -> None:
    assert [zone_label(timedelta(minutes=m)) for m in (0, 480, -180, 330, -570, 345)] == ["UTC", "UTC+8", "UTC-3", "UTC+5:30", "UTC-9:30", "UTC+5:45"]
    assert zone_label(None) == "UTC"


def test_an_instant_in_a_zone_keeps_its_offset_through_daylight_saving() -> None:
    from zoneinfo import ZoneInfo

    assert format_instant(AT_MS, ZoneInfo("Asia/Shanghai")) == "2026-01-01 07:00:00 UTC+8"
    assert format_instant(AT_MS, ZoneInfo("America/New_York")) == "2025-12-31 18:00:00 UTC-5"
    assert format_instant(AT_MS + 182 * 86_400_000, ZoneInfo("America/New_York")) == "2026-07-01 19:00:00 UTC-4"
    assert format_instant(AT_MS + 13 * 3_600_000 + 5_000, ZoneInfo("Asia/Kolkata")) == "2026-01-01 17:30:05 UTC+5:30"


def test_pages_show_times_in_the_viewer_zone_in_one_format(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    group = data.add_group(console.db, "billing")
    job = data.add_job(console.db, group, "nightly")
    run = data.add_run(console.db, job, group, status=RunStatus.SUCCESS, trigger_at_ms=AT_MS)
    client = console.login("root")
    utc = client.get("/runs").get_data(as_text=True)
    assert '<time datetime="2025-12-31T23:00:00Z">2025-12-31 23:00:00 UTC</time>' in utc
    client.set_cookie("tz", "Asia/Shanghai")
    for path in ("/runs", f"/runs/{run}"):
        page = client.get(path).get_data(as_text=True)
        assert '<time datetime="2025-12-31T23:00:00Z">2026-01-01 07:00:00 UTC+8</time>' in page, path
        shown = re.findall(r"<time [^>]*>([^<]*)</time>", page)
        assert shown and all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC([+-]\d{1,2}(:\d{2})?)?", t) for t in shown), shown
        assert not re.search(r"\b(AM|PM)\b|\d{2}/\d{2}/\d{4}", page), path
    client.set_cookie("tz", "Mars/Olympus")  # not a zone: UTC, never an error
    assert "2025-12-31 23:00:00 UTC<" in client.get("/runs").get_data(as_text=True)


def test_the_cron_preview_uses_the_same_format(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    client = console.login("root")
    body = client.get("/jobs/preview?schedule_type=CRON&schedule_conf=0+9+*+*+*&timezone=Asia/Shanghai").get_json()
    assert body["fire_times"][0]["local"] == "2026-01-01 09:00:00 UTC+8 (Asia/Shanghai)"


def test_time_filters_are_typed_year_first_and_read_as_utc(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    group = data.add_group(console.db, "billing")
    job = data.add_job(console.db, group, "nightly")
    data.add_run(console.db, job, group, trigger_at_ms=AT_MS)
    client = console.login("root")
    page = client.get("/runs").get_data(as_text=True)
    assert 'type="datetime-local"' not in page and 'placeholder="YYYY-MM-DD HH:MM"' in page
    assert 'type="datetime-local"' not in client.get("/audit").get_data(as_text=True)
    dashboard = client.get("/?days=7").get_data(as_text=True)  # its range: days, typed year first too
    assert 'type="date"' not in dashboard and dashboard.count('placeholder="YYYY-MM-DD"') == 2
    inside = client.get("/runs?from=2025-12-31 22:59&to=2025-12-31T23:01").get_data(as_text=True)
    assert "2025-12-31 23:00:00 UTC" in inside
    outside = client.get("/runs?from=2025-12-31 23:01")
    assert outside.status_code == 200 and "No run matches these filters." in outside.get_data(as_text=True)
    assert client.get("/runs", query_string={"from": "9999-12-31 23:59:59"}).status_code == 200  # the last instant: nothing after it
    for bad in ("12/31/2025", "2025-13-45 99:99", "31.12.2025"):
        for path in ("/runs", "/audit"):
            answer = client.get(path, query_string={"from": bad})
            assert answer.status_code == 400 and "is not a date and time (YYYY-MM-DD HH:MM)" in answer.get_data(as_text=True), (path, bad)


def test_console_js_formats_times_itself_not_by_the_browser_locale() -> None:
    script = (STATIC / "console.js").read_text(encoding="utf-8")
    assert "toLocaleString" not in script and "toLocaleDateString" not in script and "toLocaleTimeString" not in script
    assert "function formatInstant" in script and "function zoneLabel" in script
