"""/api/v1/runs: the filtered run log, one run, its log tail from the executor, kill, repair now."""

from __future__ import annotations

from flask import jsonify, request

from ..services import repair, run_cleanup, runs
from ..services.errors import ServiceError
from ..services.paging import PageRequest
from . import bp
from .context import actor, admin_ctx, executor_client, int_arg, json_body, now_ms
from .serialize import page_json, to_json
from ..texts import _t


@bp.get("/runs")
def list_runs():
    flt = runs.RunFilter.parse(request.args.to_dict())
    page = PageRequest.parse(request.args.get("page"), request.args.get("per_page"))
    with admin_ctx().db.read_session() as session:
        return jsonify(page_json(runs.list_runs(session, actor(), flt, page)))


CLEANUP_FIELDS = ("job_id", "group_id", "older_than_days", "keep_last")


@bp.get("/runs/cleanup")
def preview_cleanup():
    """How many runs a clean-up with these arguments would delete now (admins)."""
    req = run_cleanup.CleanupRequest.parse(request.args.to_dict())
    with admin_ctx().db.read_session() as session:
        return jsonify(to_json(run_cleanup.preview_cleanup(session, actor(), req, now_ms=now_ms())))


@bp.post("/runs/cleanup")
def clean_up_runs():
    """Delete a job's or a group's old runs (admins), in batches; audited."""
    body = json_body()
    errors = {name: _t("unknown field") for name in body if name not in CLEANUP_FIELDS}
    errors.update({name: _t("must be an integer") for name in CLEANUP_FIELDS if isinstance(body.get(name), str)})
    if errors:
        raise ServiceError(_t("bad clean-up request"), field_errors=errors)
    req = run_cleanup.CleanupRequest.parse(body)
    return jsonify(to_json(run_cleanup.clean_up_runs(admin_ctx().db, actor(), req, now_ms=now_ms())))


@bp.get("/runs/<id:run_id>")
def get_run(run_id: int):
    with admin_ctx().db.read_session() as session:
        return jsonify(to_json(runs.get_run(session, actor(), run_id)))


@bp.get("/runs/<id:run_id>/log")
def run_log(run_id: int):
    from_line = int_arg("from_line", 1, runs.MAX_LOG_LINE)
    page = runs.read_run_log(admin_ctx().db, actor(), run_id, executor_client(), from_line=1 if from_line is None else from_line, now_ms=now_ms())
    return jsonify(to_json(page))


@bp.post("/runs/<id:run_id>/kill")
def kill_run(run_id: int):
    result = runs.kill_run(admin_ctx().db, actor(), run_id, executor_client(), now_ms=now_ms())
    return jsonify(to_json(result)), 202 if result.sent else 200


@bp.post("/runs/<id:run_id>/repair")
def repair_run(run_id: int):
    result = repair.repair_run(admin_ctx().db, actor(), run_id, executor_client(), now_ms=now_ms())
    return jsonify(to_json(result)), 202
