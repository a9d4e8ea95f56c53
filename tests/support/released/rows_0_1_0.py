"""Rows a 0.1.0 installation holds, written the way 0.1.0 wrote them (every column given: these
inserts go around the models, which describe head). Frozen with the 0.1.0 schema beside it.

The facts the upgrade tests lean on are named below the rows.
"""

from __future__ import annotations

from typing import Any

T = 1_767_225_600_000  # 2026-01-01T00:00:00Z: "now" for this installation
DAY_MS = 86_400_000

ALICE_PASSWORD = "alice-password-0.1.0"  # admin
BOB_PASSWORD = "bob-password-0.1.0"  # a USER granted the orders group only
BOB_TOKEN = "sct_bob-api-token-0.1.0"
# scrypt at log2_n=10 (what 0.1.0 stored for those passwords at that cost)
_ALICE_HASH = "$scrypt$ln=10,r=8,p=1$WwWioZDo0xWVxdn4uaLzRQ$EBT3IaeCo69pjK0btpxOhLTjqtl9E/Zmrmv/NXXzaSU"
_BOB_HASH = "$scrypt$ln=10,r=8,p=1$SVYL7/fIpkjo/r9qQDXPaw$Lv7FEyKdCPMm5AyUdmbbqj0nqWrCBaEfahM9Pch4dKU"
_BOB_TOKEN_SHA256 = "21ed1eaead74b581ba5de9a5dd01ab7afdac06c6e282e64092f7b1ab0f646216"


def _job(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "author": "alice", "schedule_type": "NONE", "schedule_conf": "", "timezone": "UTC", "misfire_strategy": "DO_NOTHING",
        "route_strategy": "FIRST", "param": None, "block_strategy": "SERIAL_EXECUTION", "timeout_s": 0, "retry_count": 0,
        "retry_delay_s": 10, "retry_backoff_multiplier": 2, "retry_max_delay_s": 600, "glue_type": "BEAN", "glue_source": None,
        "glue_updated_at_ms": 0, "child_job_ids": "", "alarm_emails": "", "alarm_webhook": "", "enabled": False,
        "next_fire_at_ms": 0, "last_fire_at_ms": 0, "created_at_ms": T - 30 * DAY_MS, "updated_at_ms": T - DAY_MS,
    }
    row.update(values)
    return row


def _run(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "fire_id": None, "trigger_type": "CRON", "executor_address": "http://10.0.0.7:9999", "param": None, "shard_index": 0,
        "shard_total": 1, "attempt": 0, "retry_remaining": 0, "status": "SUCCESS", "trigger_code": 200, "trigger_msg": "ok",
        "handle_at_ms": None, "handle_code": 0, "handle_msg": None, "result_json": None, "followup_status": "NONE",
        "progress_done": None, "progress_total": None, "executor_gone_at_ms": None,
    }
    row.update(values)
    return row


ADMIN_ROWS: dict[str, list[dict[str, Any]]] = {
    "sc_meta": [{"name": "first_user_created", "value": "alice"}],  # (the DDL wrote schema_version = 1)
    "sc_executor_group": [
        {"id": 1, "app_name": "billing", "title": "Billing", "address_type": "AUTO", "manual_addresses": None,
         "created_at_ms": T - 30 * DAY_MS, "updated_at_ms": T - 30 * DAY_MS},
        {"id": 2, "app_name": "orders", "title": "Orders — ünïcode", "address_type": "MANUAL",
         "manual_addresses": "http://10.0.0.8:9999\nhttp://10.0.0.9:9999", "created_at_ms": T - 20 * DAY_MS, "updated_at_ms": T - DAY_MS},
    ],
    "sc_executor_registry": [
        {"id": 1, "registry_group": "EXECUTOR", "app_name": "billing", "address": "http://10.0.0.7:9999",
         "registered_at_ms": T - 3_600_000, "heartbeat_at_ms": T - 10_000},
    ],
    "sc_job": [
        _job(id=1, group_id=1, name="bill every 5 minutes", schedule_type="CRON", schedule_conf="*/5 * * * *", timezone="Europe/Berlin",
             route_strategy="ROUND", handler="billJob", param='{"batch": 100}', timeout_s=60, retry_count=2, child_job_ids="3",
             alarm_emails="ops@example.com", enabled=True, next_fire_at_ms=T + 300_000, last_fire_at_ms=T),
        _job(id=2, group_id=2, name="sync orders", schedule_type="FIX_RATE", schedule_conf="60", misfire_strategy="FIRE_ONCE_NOW",
             route_strategy="FAILOVER", handler="syncOrders", block_strategy="DISCARD_LATER"),
        _job(id=3, group_id=1, name="drain retry tasks", route_strategy="SHARDING_BROADCAST", handler="retryTaskDrainer",
             param="batch=50", block_strategy="DISCARD_LATER", alarm_webhook="https://hooks.example/alarm"),
        _job(id=4, group_id=1, name="say hello", handler="", glue_type="GLUE_SHELL", glue_source="echo 'hello'\n",
             glue_updated_at_ms=T - DAY_MS),
    ],
    "sc_fire": [
        {"id": 1, "job_id": 1, "fire_at_ms": T - 300_000, "trigger_type": "CRON", "origin_ref": 0, "status": "DONE", "owner": "node-a",
         "lease_until_ms": T - 290_000, "param": None, "shard_index": None, "shard_total": None, "address": None, "attempt": 0,
         "created_at_ms": T - 302_000, "done_at_ms": T - 299_990},
        {"id": 2, "job_id": 3, "fire_at_ms": T - 60_000, "trigger_type": "MANUAL", "origin_ref": 424242, "status": "DONE",
         "owner": "node-a", "lease_until_ms": T - 50_000, "param": "batch=10", "shard_index": None, "shard_total": None,
         "address": None, "attempt": 0, "created_at_ms": T - 60_000, "done_at_ms": T - 59_990},
    ],
    "sc_run_log": [
        _run(id=1, job_id=1, group_id=1, fire_id=1, fire_at_ms=T - 300_000, trigger_at_ms=T - 299_995, handler="billJob",
             param='{"batch": 100}', retry_remaining=2, handle_at_ms=T - 290_000, handle_code=200, handle_msg="billed 100"),
        _run(id=2, job_id=3, group_id=1, fire_id=2, trigger_type="MANUAL", fire_at_ms=T - 60_000, trigger_at_ms=T - 59_995,
             handler="retryTaskDrainer", param="batch=10", shard_index=0, shard_total=2, handle_at_ms=T - 58_000, handle_code=200,
             handle_msg="drained", result_json='{"claimed": 3, "succeeded": 2, "retried": 1, "dead": 0}'),
        _run(id=3, job_id=3, group_id=1, fire_id=2, trigger_type="MANUAL", fire_at_ms=T - 60_000, trigger_at_ms=T - 59_995,
             executor_address="http://10.0.0.6:9999", handler="retryTaskDrainer", param="batch=10", shard_index=1, shard_total=2,
             status="FAILED", handle_at_ms=T - 58_500, handle_code=500, handle_msg="boom", followup_status="DONE",
             progress_done=4, progress_total=10, executor_gone_at_ms=T - 58_000),
    ],
    "sc_user": [
        {"id": 1, "username": "alice", "password_hash": _ALICE_HASH, "role": "ADMIN", "api_token_hash": None, "session_version": 0,
         "failed_logins": 0, "locked_until_ms": 0, "created_at_ms": T - 30 * DAY_MS, "updated_at_ms": T - 30 * DAY_MS},
        {"id": 2, "username": "bob", "password_hash": _BOB_HASH, "role": "USER", "api_token_hash": _BOB_TOKEN_SHA256,
         "session_version": 3, "failed_logins": 1, "locked_until_ms": 0, "created_at_ms": T - 10 * DAY_MS, "updated_at_ms": T - DAY_MS},
    ],
    "sc_user_group": [{"user_id": 2, "group_id": 2}],
    "sc_daily_report": [
        {"id": 1, "day": "2025-12-31", "group_id": 1, "running_count": 0, "success_count": 40, "fail_count": 2, "updated_at_ms": T - 60_000},
        {"id": 2, "day": "2025-12-31", "group_id": 2, "running_count": 1, "success_count": 10, "fail_count": 0, "updated_at_ms": T - 60_000},
    ],
    "sc_alarm": [
        {"id": 1, "run_log_id": 3, "job_id": 3, "channel": "WEBHOOK", "target": "https://hooks.example/alarm", "status": "PENDING",
         "attempts": 1, "next_attempt_at_ms": T - 1_000, "last_error": "HTTP 503", "created_at_ms": T - 58_000, "sent_at_ms": None},
        {"id": 2, "run_log_id": 3, "job_id": 3, "channel": "EMAIL", "target": "ops@example.com", "status": "SENT", "attempts": 1,
         "next_attempt_at_ms": T - 58_000, "last_error": None, "created_at_ms": T - 58_000, "sent_at_ms": T - 57_000},
    ],
    "sc_scheduler_node": [
        {"node_id": "node-a", "hostname": "sched-1", "pid": 4242, "started_at_ms": T - DAY_MS, "heartbeat_at_ms": T - 5_000},
    ],
    "sc_singleton_lease": [
        {"name": "daily-report", "owner": "node-a", "lease_until_ms": T - 1_000, "last_run_at_ms": T - 3_600_000},
    ],
}

RETRY_TASK_ROWS: dict[str, list[dict[str, Any]]] = {
    "shardcron_retry_task": [
        {"id": 1, "task_code": "SEND_SMS", "request_no": "req-1", "payload": '{"phone": "+49 170 0000000", "text": "hi"}',
         "status": "PENDING", "attempts": 1, "max_attempts": 5, "next_attempt_at_ms": T - 1_000, "lease_owner": None,
         "lease_until_ms": 0, "stages_done": None, "last_error": "gateway timeout", "result": None, "created_at_ms": T - 60_000,
         "updated_at_ms": T - 30_000, "finished_at_ms": None},
        {"id": 2, "task_code": "SYNC_ORDER", "request_no": "req-2", "payload": '{"order": 7}', "status": "PENDING", "attempts": 2,
         "max_attempts": 5, "next_attempt_at_ms": T - 1_000, "lease_owner": None, "lease_until_ms": 0,
         "stages_done": '{"fetch": {"rows": 3}}', "last_error": "search index unreachable", "result": None,
         "created_at_ms": T - 60_000, "updated_at_ms": T - 20_000, "finished_at_ms": None},
        {"id": 3, "task_code": "SEND_SMS", "request_no": "req-3", "payload": '{"phone": "+49 170 0000001", "text": "yo"}',
         "status": "SUCCEEDED", "attempts": 1, "max_attempts": 5, "next_attempt_at_ms": T - 50_000, "lease_owner": None,
         "lease_until_ms": 0, "stages_done": None, "last_error": None, "result": '"sent"', "created_at_ms": T - 60_000,
         "updated_at_ms": T - 50_000, "finished_at_ms": T - 50_000},
        {"id": 4, "task_code": "SEND_SMS", "request_no": "req-4", "payload": '{"phone": "bogus", "text": "no"}', "status": "DEAD",
         "attempts": 5, "max_attempts": 5, "next_attempt_at_ms": T - 40_000, "lease_owner": None, "lease_until_ms": 0,
         "stages_done": None, "last_error": "invalid number", "result": None, "created_at_ms": T - 60_000,
         "updated_at_ms": T - 40_000, "finished_at_ms": T - 40_000},
    ],
}

# Facts the upgrade tests use.
ADMIN_GROUP_BILLING, USER_GROUP_ORDERS = 1, 2
ORDERS_JOB_IDS = [2]  # what bob (granted orders only) sees
SCHEDULED_JOB_ID, SCHEDULED_JOB_NEXT_FIRE_MS = 1, T + 300_000
DUE_ALARM_ID = 1
DUE_TASKS = [("SEND_SMS", "req-1"), ("SYNC_ORDER", "req-2")]
SYNC_ORDER_STAGE_DONE = ("fetch", {"rows": 3})
DEAD_TASK = ("SEND_SMS", "req-4")
FINISHED_TASK = ("SEND_SMS", "req-3")
