"""deploy/: every file parses, names real settings only, and the WSGI entry point is web-only.

Docker and Kubernetes cannot run here, so their files are checked for shape: they parse, they
run the commands shardcron has, their probes hit /healthz and /readyz, and every SHARDCRON_*
variable they set is a setting of the admin (Config) or of the executor (ExecutorConfig).
"""

from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shardcron.admin.config import CONFIG_FILE_ENV
from shardcron.admin.config import settings_table as admin_settings
from shardcron.executor.config import CONFIG_FILE_ENV as EXECUTOR_CONFIG_FILE_ENV
from shardcron.executor.config import settings_table as executor_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KNOWN = {row["env"] for row in admin_settings()} | {row["env"] for row in executor_settings()} | {CONFIG_FILE_ENV, EXECUTOR_CONFIG_FILE_ENV}


def _deploy_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file())


def test_every_shardcron_variable_is_a_real_setting() -> None:
    seen: dict[str, list[str]] = {}
    for path in _deploy_files() + [ROOT / "admin" / "wsgi.py"]:
        for name in re.findall(r"\bSHARDCRON_[A-Z0-9_]+\b", path.read_text(encoding="utf-8")):
            seen.setdefault(name, []).append(str(path.relative_to(ROOT)))
    unknown = {name: files for name, files in seen.items() if name not in KNOWN}
    assert unknown == {}
    assert "SHARDCRON_DATABASE_URL" in seen and "SHARDCRON_EXECUTOR_ACCESS_TOKEN" in seen  # the check looked at something


def _k8s_documents() -> list[dict]:
    docs = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


def _deployment(docs: list[dict], component: str) -> dict:
    (found,) = [d for d in docs if d["kind"] == "Deployment" and d["metadata"]["labels"]["app.kubernetes.io/component"] == component]
    return found


def test_kubernetes_manifests() -> None:
    docs = _k8s_documents()
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == ["ConfigMap", "Deployment", "Deployment", "Deployment", "Job", "Secret", "Service"]
    for component, port in (("web", "http"), ("executor", "executor")):
        container = _deployment(docs, component)["spec"]["template"]["spec"]["containers"][0]
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": port}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": port}
    web = _deployment(docs, "web")["spec"]["template"]["spec"]["containers"][0]
    assert web["command"] == ["gunicorn", "-c", "/etc/shardcron/gunicorn.conf.py"]
    assert _deployment(docs, "scheduler")["spec"]["template"]["spec"]["containers"][0]["command"] == ["shardcron", "scheduler"]
    executor = _deployment(docs, "executor")["spec"]["template"]["spec"]["containers"][0]
    assert executor["command"][-1] == "shardcron.executor.examples.demo_jobs:create_executor"
    (service,) = [d for d in docs if d["kind"] == "Service"]
    assert service["spec"]["selector"] == _deployment(docs, "web")["spec"]["selector"]["matchLabels"]
    (secret,) = [d for d in docs if d["kind"] == "Secret"]
    # the example's placeholders are refused by shardcron (secrets need >= 16 characters)
    assert all(len(secret["stringData"][key]) < 16 for key in ("SHARDCRON_SECRET_KEY", "SHARDCRON_ACCESS_TOKEN", "SHARDCRON_METRICS_TOKEN"))


@pytest.mark.parametrize(
    ("file", "database", "url_prefix"),
    [("compose.yaml", "mariadb", "mysql+pymysql://"), ("compose.postgres.yaml", "postgres", "postgresql+psycopg://")],
)
def test_compose_file(file: str, database: str, url_prefix: str) -> None:
    compose = yaml.safe_load((DEPLOY / file).read_text())
    services = compose["services"]
    assert {database, "db-init", "web-1", "web-2", "scheduler-1", "scheduler-2", "executor-1", "executor-2"} <= set(services)
    assert services["db-init"]["command"] == ["shardcron", "db", "init"]
    assert services["db-init"]["depends_on"] == {database: {"condition": "service_healthy"}}
    assert "healthcheck" in services[database]
    for name in ("web-1", "web-2"):
        assert services[name]["command"][0] == "gunicorn"
        assert services[name]["environment"]["SHARDCRON_DATABASE_URL"].startswith(url_prefix)
        assert f"@{database}:" in services[name]["environment"]["SHARDCRON_DATABASE_URL"]
    for name in ("scheduler-1", "scheduler-2"):
        assert services[name]["command"] == ["shardcron", "scheduler"]
        assert services[name]["environment"]["SHARDCRON_DATABASE_URL"].startswith(url_prefix)
    for name in ("executor-1", "executor-2"):
        env = services[name]["environment"]
        assert env["SHARDCRON_EXECUTOR_ADVERTISE_ADDRESS"] == f"http://{name}:9999/"
        assert env["SHARDCRON_EXECUTOR_ADMIN_ADDRESSES"] == "http://web-1:8080/,http://web-2:8080/"
    # no default credentials: every secret must come from deploy/.env
    text = (DEPLOY / file).read_text()
    for variable in ("DB_PASSWORD", "SECRET_KEY", "ACCESS_TOKEN", "METRICS_TOKEN"):
        assert f"${{{variable}:?" in text
    example = dict(line.split("=", 1) for line in (DEPLOY / ".env.example").read_text().splitlines() if line and not line.startswith("#"))
    assert example and all(value == "" for value in example.values())


@pytest.mark.parametrize("unit", ["shardcron-web.service", "shardcron-scheduler.service", "shardcron-executor@.service"])
def test_systemd_units_parse(unit: str) -> None:
    parser = configparser.ConfigParser(strict=True, interpolation=None)
    parser.optionxform = str  # keys are case-sensitive in systemd
    parser.read_string((DEPLOY / "systemd" / unit).read_text())
    assert parser.sections() == ["Unit", "Service", "Install"]
    exec_start = parser["Service"]["ExecStart"]
    expected = {
        "shardcron-web.service": "/opt/shardcron/bin/gunicorn -c /etc/shardcron/gunicorn.conf.py",
        "shardcron-scheduler.service": "/opt/shardcron/bin/shardcron scheduler",
        "shardcron-executor@.service": "/opt/shardcron/bin/shardcron executor run ${EXECUTOR_TARGET}",
    }
    assert exec_start == expected[unit]
    assert parser["Service"]["User"] == "shardcron"
    assert parser["Install"]["WantedBy"] == "multi-user.target"


def test_dockerfile() -> None:
    lines = [line.strip() for line in (DEPLOY / "Dockerfile").read_text().splitlines() if line.strip() and not line.strip().startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert any(line.startswith("RUN pip install .") for line in lines)
    assert "USER shardcron" in lines
    assert lines[-1] == 'CMD ["gunicorn", "-c", "/etc/shardcron/gunicorn.conf.py"]'
    for source in re.findall(r"^COPY (\S+)", "\n".join(lines), re.M):
        assert (ROOT / source).exists(), source


def _clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_") and k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update({"SHARDCRON_INSTANCE_DIR": str(tmp_path / "instance"), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), **extra})
    return env


def test_gunicorn_config_reads_shardcron_settings(tmp_path: Path) -> None:
    script = (
        "import runpy; c = runpy.run_path('deploy/gunicorn.conf.py');"
        "print(c['bind'], c['wsgi_app'], c['workers'], c['worker_class'], c['loglevel'])"
    )
    env = _clean_env(tmp_path, SHARDCRON_BIND="127.0.0.1:9123", SHARDCRON_LOG_LEVEL="WARNING", WEB_CONCURRENCY="3")
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["['127.0.0.1:9123']", "shardcron.admin.wsgi:app", "3", "gthread", "warning"]
    bad = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_clean_env(tmp_path, SHARDCRON_BIND="nowhere"), capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "invalid setting bind='nowhere'" in bad.stderr


def test_gunicorn_accepts_the_config(tmp_path: Path) -> None:
    gunicorn = Path(sys.executable).parent / "gunicorn"
    out = subprocess.run([str(gunicorn), "--check-config", "-c", "deploy/gunicorn.conf.py"], cwd=ROOT, env=_clean_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr


def test_wsgi_module_serves_the_web_app_and_starts_no_thread(tmp_path: Path) -> None:
    script = (
        "import threading; before = threading.active_count();"
        "from shardcron.admin.wsgi import app;"
        "client = app.test_client();"
        "print(client.get('/healthz').status_code, client.get('/metrics').status_code, threading.active_count() - before)"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=_clean_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["200", "401", "0"]  # /metrics needs its token by default
    assert (tmp_path / "instance" / "shardcron.db").exists()  # the embedded default got its schema
    assert (tmp_path / "instance" / "setup_code").exists()  # no user yet: the setup code was made


def test_wsgi_module_refuses_a_server_database_without_schema(tmp_path: Path, server_url: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import shardcron.admin.wsgi"], cwd=tmp_path, env=_clean_env(tmp_path, SHARDCRON_DATABASE_URL=server_url), capture_output=True, text=True, timeout=60
    )
    assert out.returncode != 0
    assert "has no shardcron schema yet: run `shardcron db init` first" in out.stderr
