"""Jitter: a job's per-fire delay in [0, jitter_s] seconds, the same on every scheduler node.

The delay is derived from the job id and the planned time alone (a keyed hash, no random state),
so whichever node sends a fire — or adopts it from another — sends it at the same instant, and
the preview can show it before it happens. The run keeps its planned time (`ctx.trigger_time_ms`);
only the `/run` goes out later.
"""

from __future__ import annotations

import hashlib

#: The largest jitter a job may have, in seconds.
MAX_JITTER_S = 3600


def jitter_ms(job_id: int, planned_ms: int, jitter_s: int) -> int:
    """The delay, in milliseconds within [0, jitter_s * 1000], of the fire of job `job_id`
    planned at `planned_ms`. 0 when the job has no jitter."""
    if jitter_s <= 0:
        return 0
    digest = hashlib.blake2b(f"{job_id}:{planned_ms}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % (jitter_s * 1000 + 1)
