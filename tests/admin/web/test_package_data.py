"""The console's templates and static files are declared as package data (or a wheel ships a
console without pages)."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
WEB = ROOT / "admin" / "web"


def test_every_template_and_static_file_is_package_data() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["shardcron.admin.web"]
    files = [p.relative_to(WEB).as_posix() for folder in ("templates", "static") for p in (WEB / folder).rglob("*") if p.is_file()]
    assert files, "no console files found"
    missing = [f for f in files if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)]
    assert missing == []


def test_no_page_loads_anything_from_another_site() -> None:
    for path in (WEB / "templates").glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text.replace('placeholder="http://', "") and "https://" not in text, path.name
        assert "<script>" not in text and " style=" not in text and "<style" not in text, path.name  # the CSP forbids inline code
