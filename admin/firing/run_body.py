"""The `/run` body of a trigger, written straight to bytes.

A job's triggers differ only in logId, logDateTime, executorParams and the shard pair. `RunBody`
encodes the job's other fields once, when the fire loop prepares the job's fires, and joins the
varying ones in per trigger. Before, the fire loop built a `TriggerParam` per trigger and the
timer thread encoded its wire dict, 6-7 us of the timer's CPU per `/run` alone (docs/benchmarks.md,
Scheduler).

The bytes decode to exactly `TriggerParam(...).to_wire()`: same keys, same order, same values
(tests/admin/scheduling/test_run_body.py compares the two).
"""

from __future__ import annotations

from shardcron.core.protocol import BlockStrategy, encode_json


class RunBody:
    """The `/run` bodies of one job's triggers (one handler: a re-sent row keeps its own)."""

    __slots__ = ("_head", "_middle", "_tail", "_param", "_param_json")

    def __init__(
        self,
        job_id: int,
        handler: str,
        block_strategy: str | None,
        timeout_s: int,
        glue_type: str,
        glue_source: str | None,
        glue_updated_at_ms: int,
    ) -> None:
        self._head = b'{"jobId":%d,"executorHandler":%s,"executorParams":' % (job_id, encode_json(handler))
        self._middle = b',"executorBlockStrategy":%s,"executorTimeout":%d,"logId":' % (
            encode_json(str(BlockStrategy.from_wire(block_strategy))),
            timeout_s,
        )
        self._tail = b',"glueType":%s,"glueSource":%s,"glueUpdatetime":%d,"broadcastIndex":' % (
            encode_json(glue_type),
            encode_json(glue_source or ""),
            glue_updated_at_ms,
        )
        # Most triggers of a job carry the same parameter: its encoding is kept.
        self._param: str | None = None
        self._param_json = b'""'

    def encode(self, log_id: int, log_date_time_ms: int, params: str | None, index: int, total: int, resume: bytes = b"") -> bytes:
        """`resume`: `resume_suffix(...)` for a run that resumes from a checkpoint, else empty."""
        if params != self._param:
            self._param, self._param_json = params, encode_json(params or "")
        return b'%s%s%s%d,"logDateTime":%d%s%d,"broadcastTotal":%d%s}' % (
            self._head, self._param_json, self._middle, log_id, log_date_time_ms, self._tail, index, total, resume,
        )


def resume_suffix(from_run_id: int, checkpoint_json: str) -> bytes:
    """The extension keys of a run that resumes from run `from_run_id`'s checkpoint (stored JSON)."""
    return b',"resumeFrom":%s,"resumeFromLogId":%d' % (checkpoint_json.encode("utf-8"), from_run_id)


def upstream_suffix(upstream_json: str) -> bytes:
    """The extension key of a workflow step's run: `upstream`, the result data of the steps
    before it (stored JSON object, sc_workflow_step_run.upstream_json); after any resume keys."""
    return b',"upstream":%s' % upstream_json.encode("utf-8")
