"""`/api/registry`, `/api/registryRemove`, `/api/callback`, `/api/progress`, `/api/checkpoint` for executors.

XXL-JOB's contract: POST with a JSON body, HTTP 200 always, the outcome in the envelope
(`{"code", "msg", "content", "data"}`). A wrong token or a malformed body is code 500 with a
message saying what is wrong, and nothing is written. A callback batch is one transaction; a
logId the admin does not know is named in `msg` but does not fail the batch (an executor would
otherwise re-send it forever).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from shardcron.core.protocol import (
    Envelope,
    ProtocolError,
    RegistryParam,
    decode_json,
    parse_callback_body,
    parse_checkpoint_body,
    parse_progress_body,
)
from shardcron.core.sqlengine import describe_db_error

from ..firing.fire_bell import bell_for
from ..firing.fire_store import retry_on_deadlock
from ..metrics import record_run_finished
from ..workflows.advance import AdvanceFailed, advance_in, advance_step_runs
from .auto_groups import ensure_group
from .auth import WRONG_TOKEN_MSG, expected_token, token_accepted
from .registry_store import record_heartbeat, remove_registration
from .run_results import BatchOutcome, apply_callbacks, apply_checkpoints, apply_progress

log = logging.getLogger("shardcron.admin.rpc")

blueprint = Blueprint("rpc", __name__)
_TOKEN_KEY = "shardcron.rpc_token"


@blueprint.record_once
def _read_token(state: Any) -> None:
    ctx = state.app.extensions["shardcron"]
    state.app.extensions[_TOKEN_KEY] = expected_token(ctx.config)


def _answer(envelope: Envelope):
    return jsonify(envelope.to_wire()), 200


def _handle(parse: Callable[[Any], Any], run: Callable[[Any, Any, int], str | None]):
    """Check the token, parse the body, `run(db, message, now_ms)` (retried whole on a deadlock)
    and answer in the protocol's envelope."""
    if not token_accepted(current_app.extensions[_TOKEN_KEY], request.headers):
        log.warning("refused %s from %s: wrong or missing access token", request.path, request.remote_addr)
        return _answer(Envelope.failure(WRONG_TOKEN_MSG))
    try:
        message = parse(decode_json(request.get_data(cache=False)))
    except RequestEntityTooLarge:
        return _answer(Envelope.failure(f"body is over the {current_app.config['MAX_CONTENT_LENGTH']}-byte limit"))
    except ProtocolError as exc:
        log.info("refused malformed %s from %s: %s", request.path, request.remote_addr, exc)
        return _answer(Envelope.failure(str(exc)))
    ctx = current_app.extensions["shardcron"]
    try:
        msg = retry_on_deadlock(lambda: run(ctx.db, message, ctx.clock.now_ms()))
    except SQLAlchemyError as exc:
        # Nothing was committed. The executor keeps the call (heartbeat, spooled result) and sends it again later.
        reason = describe_db_error(exc, ctx.db.engine.url)
        log.error("%s not applied: %s", request.path, reason)
        return _answer(Envelope.failure(f"admin database unavailable, try again: {reason}"))
    except Exception:  # noqa: BLE001  (a peer is answered in the protocol's shape, never a bare 500)
        log.exception("%s failed", request.path)
        return _answer(Envelope.failure(f"admin error in {request.path}; the admin's log has the details"))
    return _answer(Envelope.success(msg=msg))


def _in_session(apply: Callable[[Any, Any, int], str | None]) -> Callable[[Any, Any, int], str | None]:
    """`apply(session, message, now_ms)` in one transaction of its own."""

    def run(db, message: Any, now_ms: int) -> str | None:
        with db.session() as session:
            return apply(session, message, now_ms)

    return run


def _register(session, param: RegistryParam, now_ms: int) -> str | None:
    ensure_group(session, param, create=current_app.extensions["shardcron"].config.auto_create_groups, now_ms=now_ms)
    record_heartbeat(session, param, now_ms)
    return None


def _unregister(session, param: RegistryParam, now_ms: int) -> str | None:
    return None if remove_registration(session, param) else "not registered"


def _callbacks(db, results, now_ms: int) -> str | None:
    """Write the results and, in the same transaction, move on the workflow instances of the
    steps they finished (a step's successor is fired at once). Should that advance fail, the
    transaction is rolled back and the results written again on their own, their steps marked
    for follow-up; the view then advances the instances after that commit. Retried whole on a
    deadlock (the transaction locks workflow instances after the run rows it wrote, and
    cancelling an instance locks the other way round): what it did is handed to the view (`g`)
    only once committed, and the view logs it, once."""
    upstream_max_bytes = current_app.extensions["shardcron"].config.workflow_upstream_max_bytes
    try:
        with db.session() as session:
            outcome = apply_callbacks(session, results, now_ms, advancing=True)
            advance_in(session, outcome.step_instances, now_ms, upstream_max_bytes=upstream_max_bytes)
        advanced = True
    except AdvanceFailed:
        with db.session() as session:
            outcome = apply_callbacks(session, results, now_ms)
        advanced = False
    g.callback_outcome = (outcome, advanced)
    return outcome.describe("results")


def _after_callbacks(outcome: BatchOutcome, advanced: bool) -> None:
    """After the commit: the log lines and metrics of the runs the batch finished, then the fire
    bell (the instances moved on) or the advance the transaction could not do."""
    for run in outcome.finished:
        record_run_finished(run.status.value, run.duration_ms)
        log.info(
            "run finished",
            extra={"job_id": run.job_id, "log_id": run.log_id, "shard": run.shard, "status": run.status.value, "handle_code": run.handle_code, "duration_ms": run.duration_ms},
        )
    if outcome.unknown:
        log.warning("callback for unknown logId(s) %s ignored", outcome.unknown[:20])
    if not outcome.step_run_ids:
        return
    ctx = current_app.extensions["shardcron"]
    if advanced:
        bell_for(ctx.db).ring()  # this process's fire loops claim the new fires now
    else:
        advance_step_runs(ctx.db, outcome.step_run_ids, ctx.clock.now_ms(), upstream_max_bytes=ctx.config.workflow_upstream_max_bytes)


def _progress(session, reports, now_ms: int) -> str | None:
    return apply_progress(session, reports, now_ms).describe("reports")


def _checkpoints(session, items, now_ms: int) -> str | None:
    outcome = apply_checkpoints(session, items, now_ms)
    if outcome.unknown:
        log.warning("checkpoint for unknown logId(s) %s ignored", outcome.unknown[:20])
    return outcome.describe("checkpoints")


@blueprint.post("/registry", strict_slashes=False)
def registry():
    return _handle(RegistryParam.from_wire, _in_session(_register))


@blueprint.post("/registryRemove", strict_slashes=False)
def registry_remove():
    return _handle(RegistryParam.from_wire, _in_session(_unregister))


@blueprint.post("/callback", strict_slashes=False)
def callback():
    answer = _handle(parse_callback_body, _callbacks)
    done = g.pop("callback_outcome", None)
    if done is not None:
        _after_callbacks(*done)
    return answer


@blueprint.post("/progress", strict_slashes=False)
def progress():
    return _handle(parse_progress_body, _in_session(_progress))


@blueprint.post("/checkpoint", strict_slashes=False)
def checkpoint():
    return _handle(parse_checkpoint_body, _in_session(_checkpoints))
