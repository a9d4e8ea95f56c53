"""/api/v1/jobs/<id>/glue-versions: a job's kept script versions, one with its diff, rollback."""

from __future__ import annotations

from flask import jsonify

from ..services import glue_versions, jobs
from . import bp
from .context import actor, admin_ctx, now_ms
from .serialize import to_json


@bp.get("/jobs/<id:job_id>/glue-versions")
def list_glue_versions(job_id: int):
    with admin_ctx().db.read_session() as session:
        found = glue_versions.list_versions(session, actor(), job_id)
    return jsonify(items=to_json(found))


@bp.get("/jobs/<id:job_id>/glue-versions/<id:version_id>")
def get_glue_version(job_id: int, version_id: int):
    with admin_ctx().db.read_session() as session:
        detail = glue_versions.get_version(session, actor(), job_id, version_id)
    return jsonify(to_json(detail))


@bp.post("/jobs/<id:job_id>/glue-versions/<id:version_id>/rollback")
def rollback_glue_version(job_id: int, version_id: int):
    with admin_ctx().db.session() as session:
        view = jobs.rollback_script(session, actor(), job_id, version_id, now_ms=now_ms())
    return jsonify(to_json(view))
