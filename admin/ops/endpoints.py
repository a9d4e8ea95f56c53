"""`/readyz` and `/metrics`."""

from __future__ import annotations

import hmac

from flask import Blueprint, Response, current_app, jsonify, request

from ..config import metrics_token
from ..metrics import CONTENT_TYPE, render_metrics
from .readiness import check_readiness

blueprint = Blueprint("ops", __name__)


def _ctx():
    return current_app.extensions["shardcron"]


@blueprint.get("/readyz")
def readyz():
    result = check_readiness(_ctx())
    body = jsonify(status="ready" if result.ready else "not ready", checks=result.checks, reasons=result.reasons)
    return body, 200 if result.ready else 503


@blueprint.get("/metrics")
def metrics():
    token = metrics_token(_ctx().config)
    if token is not None:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token.encode()):
            return Response("metrics need Authorization: Bearer <metrics_token> (the setting, or instance_dir/metrics_token)\n", 401, {"WWW-Authenticate": "Bearer", "Content-Type": "text/plain"})
    return Response(render_metrics(_ctx()), 200, {"Content-Type": CONTENT_TYPE})
