"""When a failed run's retry is due (the follow-up monitor writes the RETRY fire at that time;
a workflow step finds its retry's fire by it)."""

from __future__ import annotations

from typing import Protocol


class RetrySettings(Protocol):
    """A job's retry settings (a Job, or a row of just these columns)."""

    @property
    def retry_delay_s(self) -> int: ...
    @property
    def retry_max_delay_s(self) -> int: ...
    @property
    def retry_backoff_multiplier(self) -> int: ...


def retry_delay_ms(job: RetrySettings, attempt: int) -> int:
    """Delay before retry number `attempt + 1`: retry_delay_s * multiplier^attempt, capped."""
    cap_s = max(job.retry_max_delay_s, 0)
    delay_s = max(job.retry_delay_s, 0)
    for _ in range(attempt):
        if delay_s >= cap_s:
            break
        delay_s *= max(job.retry_backoff_multiplier, 1)
    return min(delay_s, cap_s) * 1000
