"""/api/v1/runs: the filtered run log, one run, its log tail from the executor, kill, repair now."""

from __future__ import annotations

from flask import jsonify, request

from ..services import repair, runs
from ..services.paging import PageRequest
from . import bp
from .context import actor, admin_ctx, executor_client, int_arg, now_ms
from .serialize import page_json, to_json


@bp.get("/runs")
def list_runs():
    flt = runs.RunFilter.parse(request.args.to_dict())
    page = PageRequest.parse(request.args.get("page"), request.args.get("per_page"))
    with admin_ctx().db.read_session() as session:
        return jsonify(page_json(runs.list_runs(session, actor(), flt, page)))


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
