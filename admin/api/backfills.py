"""/api/v1 backfills: a job's backfills (list, preview, create), one backfill (get, cancel)."""

from __future__ import annotations

from flask import jsonify, request

from ..services import backfills
from . import bp
from .context import actor, admin_ctx, json_body, now_ms
from .serialize import to_json


def _max_runs() -> int:
    return admin_ctx().config.backfill_max_runs


@bp.get("/jobs/<id:job_id>/backfills")
def list_backfills(job_id: int):
    with admin_ctx().db.read_session() as session:
        return jsonify(items=to_json(backfills.list_backfills(session, actor(), job_id)))


@bp.get("/jobs/<id:job_id>/backfills/preview")
def preview_backfill(job_id: int):
    """How many runs a backfill of the range would make (nothing written)."""
    body = {name: request.args[name] for name in request.args}
    with admin_ctx().db.read_session() as session:
        req = backfills.preview_backfill(session, actor(), job_id, body, now_ms=now_ms(), max_runs=_max_runs())
    return jsonify(planned=req.planned, first_times_ms=req.first_times_ms, overlap_policy=req.overlap_policy.value, pace=req.pace)


@bp.post("/jobs/<id:job_id>/backfills")
def create_backfill(job_id: int):
    body = json_body()
    with admin_ctx().db.session() as session:
        view = backfills.create_backfill(session, actor(), job_id, body, now_ms=now_ms(), max_runs=_max_runs())
    return jsonify(to_json(view)), 201


@bp.get("/backfills/<id:backfill_id>")
def get_backfill(backfill_id: int):
    with admin_ctx().db.read_session() as session:
        return jsonify(to_json(backfills.get_backfill(session, actor(), backfill_id)))


@bp.post("/backfills/<id:backfill_id>/cancel")
def cancel_backfill(backfill_id: int):
    with admin_ctx().db.session() as session:
        return jsonify(to_json(backfills.cancel_backfill(session, actor(), backfill_id, now_ms=now_ms())))
