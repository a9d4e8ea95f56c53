"""An XXL-JOB database for the import tests: its two tables and sample rows that cover every
strategy plus values that cannot be carried over."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

SCHEMA_24 = Path(__file__).with_name("xxljob_schema.sql")

GROUPS: list[dict[str, Any]] = [
    {"id": 1, "app_name": "billing", "title": "Billing", "address_type": 0, "address_list": "http://10.0.0.1:9999/,http://10.0.0.2:9999/"},
    {"id": 2, "app_name": "reports", "title": "Reports", "address_type": 1, "address_list": "http://10.0.0.5:9999/, ftp://10.0.0.9/ ,http://10.0.0.6:9999"},
    {"id": 3, "app_name": "bad app", "title": "Spaces", "address_type": 0, "address_list": None},
    {"id": 4, "app_name": "empty-manual", "title": "Empty", "address_type": 1, "address_list": None},
]

_JOB_DEFAULTS: dict[str, Any] = {
    "job_group": 1,
    "author": "ops",
    "alarm_email": "",
    "schedule_type": "CRON",
    "schedule_conf": "0 0/5 * * * ?",
    "misfire_strategy": "DO_NOTHING",
    "executor_route_strategy": "FIRST",
    "executor_handler": "demoHandler",
    "executor_param": "",
    "executor_block_strategy": "SERIAL_EXECUTION",
    "executor_timeout": 0,
    "executor_fail_retry_count": 0,
    "glue_type": "BEAN",
    "glue_source": "",
    "glue_remark": "",
    "glue_updatetime": "2024-05-01 10:00:00",
    "child_jobid": "",
    "trigger_status": 0,
}

_ROUTES = ["FIRST", "LAST", "ROUND", "RANDOM", "CONSISTENT_HASH", "LEAST_FREQUENTLY_USED", "LEAST_RECENTLY_USED", "FAILOVER", "BUSYOVER", "SHARDING_BROADCAST"]


def _job(job_id: int, job_desc: str, **values: Any) -> dict[str, Any]:
    return {**_JOB_DEFAULTS, "id": job_id, "job_desc": job_desc, **values}


#: ids 1-10: one job per route strategy (all convertible); 11-: the other cases.
JOBS: list[dict[str, Any]] = [
    _job(i + 1, f"route {route}", executor_route_strategy=route, executor_handler=f"h{i + 1}") for i, route in enumerate(_ROUTES)
] + [
    _job(11, "sync orders", schedule_conf="0 0 2 * * ? *", misfire_strategy="FIRE_ONCE_NOW", executor_block_strategy="DISCARD_LATER",
         executor_timeout=30, executor_fail_retry_count=3, alarm_email="a@example.com,not-an-email, b@example.com", child_jobid="12,99,11,x",
         trigger_status=1, executor_param="full=1"),
    _job(12, "rate job", schedule_type="FIX_RATE", schedule_conf="30", executor_block_strategy="COVER_EARLY", trigger_status=1),
    _job(13, "manual only", schedule_type="NONE", schedule_conf=None, trigger_status=1),
    _job(14, "bad cron", schedule_conf="0 0 25 * * ?", trigger_status=1),
    _job(15, "fix delay", schedule_type="FIX_DELAY", schedule_conf="10"),
    _job(16, "bad rate", schedule_type="FIX_RATE", schedule_conf="ten"),
    _job(17, "weird strategies", executor_route_strategy="WEIRD", executor_block_strategy="NOPE", misfire_strategy="LATER",
         executor_timeout=-5, executor_fail_retry_count=-1),
    _job(18, "shell script", job_group=2, glue_type="GLUE_SHELL", executor_handler="", glue_source="echo hello", glue_remark="first version"),
    _job(19, "groovy script", job_group=2, glue_type="GLUE_GROOVY", executor_handler="", glue_source="class X {}"),
    _job(20, "no handler", executor_handler="", trigger_status=1),
    _job(21, "twin", executor_handler="t1"),
    _job(22, "twin", executor_handler="t2"),
    _job(23, "orphan", job_group=99),
    _job(24, "in skipped group", job_group=3),
    _job(25, "unknown glue", glue_type="GLUE_COBOL", executor_handler=""),
    _job(26, "python script", job_group=4, glue_type="GLUE_PYTHON", executor_handler="", glue_source="print('hi')", child_jobid="1"),
    _job(27, "loop a", child_jobid="28"),
    _job(28, "loop b", child_jobid="27"),
    _job(29, "huge numbers", executor_timeout=10_000_000, executor_fail_retry_count=500),
]


def create_xxljob_database(url: str, *, rows: bool = True) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for statement in SCHEMA_24.read_text().split(";"):
            body = "\n".join(line for line in statement.splitlines() if not line.strip().startswith("--")).strip()
            if body:
                conn.exec_driver_sql(body)
        if rows:
            conn.execute(sa.text(
                "INSERT INTO xxl_job_group (id, app_name, title, address_type, address_list, update_time)"
                " VALUES (:id, :app_name, :title, :address_type, :address_list, NOW())"), GROUPS)
            columns = list(JOBS[0])
            conn.execute(sa.text(
                f"INSERT INTO xxl_job_info ({', '.join(columns)}, add_time, update_time)"
                f" VALUES ({', '.join(':' + c for c in columns)}, NOW(), NOW())"), JOBS)
    engine.dispose()
