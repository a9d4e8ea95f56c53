"""/api/v1/jobs: CRUD, start/stop/copy, triggers (whole job or one shard), fire-time previews."""

from __future__ import annotations

from flask import jsonify, request

from ..enums import TriggerType
from ..texts import _t
from ..services import jobs, triggers
from ..services.errors import ServiceError
from ..services.numbers import ID_MAX, ID_MIN
from ..services.paging import PageRequest
from . import bp
from .context import actor, admin_ctx, bool_arg, int_arg, json_body, now_ms
from .serialize import page_json, to_json

TRIGGER_FIELDS = {"param", "shard_index", "shard_total", "address", "resume_from_run_id"}
MAX_PREVIEW = 50


@bp.get("/jobs")
def list_jobs():
    sort = request.args.get("sort") or "id"
    order = (request.args.get("order") or "asc").lower()
    if order not in ("asc", "desc"):
        raise ServiceError(_t("bad job filter"), field_errors={"order": _t("must be asc or desc")})
    flt = jobs.JobFilter(
        group_id=int_arg("group_id", ID_MIN, ID_MAX, what=_t("an id")), search=request.args.get("search") or None, owner=request.args.get("owner") or None,
        enabled=bool_arg("enabled"), paused=bool_arg("paused"), sort=sort, descending=order == "desc",
    )
    page = PageRequest.parse(request.args.get("page"), request.args.get("per_page"))
    with admin_ctx().db.read_session() as session:
        return jsonify(page_json(jobs.list_jobs(session, actor(), flt, page)))


@bp.post("/jobs")
def create_job():
    body = json_body()
    with admin_ctx().db.session() as session:
        view = jobs.create_job(session, actor(), body, now_ms=now_ms(), default_timezone=admin_ctx().config.default_timezone)
    return jsonify(to_json(view)), 201


@bp.get("/jobs/<id:job_id>")
def get_job(job_id: int):
    with admin_ctx().db.read_session() as session:
        return jsonify(to_json(jobs.get_job(session, actor(), job_id)))


@bp.patch("/jobs/<id:job_id>")
def update_job(job_id: int):
    body = json_body()
    with admin_ctx().db.session() as session:
        return jsonify(to_json(jobs.update_job(session, actor(), job_id, body, now_ms=now_ms())))


@bp.delete("/jobs/<id:job_id>")
def delete_job(job_id: int):
    with admin_ctx().db.session() as session:
        jobs.delete_job(session, actor(), job_id, now_ms=now_ms())
    return "", 204


@bp.post("/jobs/<id:job_id>/start")
def start_job(job_id: int):
    with admin_ctx().db.session() as session:
        return jsonify(to_json(jobs.start_job(session, actor(), job_id, now_ms=now_ms())))


@bp.post("/jobs/<id:job_id>/stop")
def stop_job(job_id: int):
    with admin_ctx().db.session() as session:
        return jsonify(to_json(jobs.stop_job(session, actor(), job_id, now_ms=now_ms())))


@bp.post("/jobs/<id:job_id>/copy")
def copy_job(job_id: int):
    body = json_body(required=False)
    unknown = sorted(set(body) - {"name"})
    if unknown:
        raise ServiceError(_t("job not copied"), field_errors={name: _t("unknown field") for name in unknown})
    with admin_ctx().db.session() as session:
        view = jobs.copy_job(session, actor(), job_id, now_ms=now_ms(), name=body.get("name"))
    return jsonify(to_json(view)), 201


@bp.post("/jobs/<id:job_id>/trigger")
def trigger_job(job_id: int):
    body = json_body(required=False)
    unknown = sorted(set(body) - TRIGGER_FIELDS)
    if unknown:
        raise ServiceError(_t("job %(id)s not triggered", id=job_id), field_errors={name: _t("unknown field") for name in unknown})
    with admin_ctx().db.session() as session:
        result = triggers.trigger_job(
            session,
            actor(),
            job_id,
            now_ms=now_ms(),
            trigger_type=TriggerType.API,
            param=body.get("param"),
            shard_index=body.get("shard_index"),
            shard_total=body.get("shard_total"),
            address=body.get("address"),
            resume_from_run_id=body.get("resume_from_run_id"),
        )
    return jsonify(to_json(result)), 202


def _count() -> int:
    count = int_arg("count", 1, MAX_PREVIEW)
    if count is None:
        return jobs.PREVIEW_COUNT
    if not 1 <= count <= MAX_PREVIEW:
        raise ServiceError(_t("bad preview request"), field_errors={"count": _t("must be between %(low)s and %(high)s", low=1, high=MAX_PREVIEW)})
    return count


@bp.get("/jobs/<id:job_id>/preview")
def preview_job(job_id: int):
    count = _count()
    with admin_ctx().db.read_session() as session:
        times, delays = jobs.preview_job_jitter(session, actor(), job_id, now_ms=now_ms(), count=count)
        _, skipped = jobs.preview_saved_job(session, actor(), job_id, now_ms=now_ms(), count=count)
        return jsonify(fire_times_ms=times, jitter_ms=delays, skipped=_skipped_json(skipped))


def _skipped_json(skipped: list[tuple[int, str]]) -> list[dict]:
    return [{"at_ms": at_ms, "calendar": name} for at_ms, name in skipped]


@bp.get("/schedule-preview")
def preview_schedule():
    """Next fire times of a schedule being edited (nothing saved); `calendars` (names, comma-separated)
    are applied and the times they skip listed."""
    count = _count()
    args = request.args
    with admin_ctx().db.read_session() as session:
        times, skipped = jobs.preview_schedule_calendars(
            session,
            args.get("schedule_type", ""),
            args.get("schedule_conf", ""),
            args.get("timezone") or admin_ctx().config.default_timezone,
            args.get("calendars", ""),
            now_ms=now_ms(),
            count=count,
        )
    return jsonify(fire_times_ms=times, skipped=_skipped_json(skipped))


@bp.get("/fires/<id:fire_id>")
def get_fire(fire_id: int):
    with admin_ctx().db.read_session() as session:
        return jsonify(to_json(triggers.get_fire(session, actor(), fire_id)))
