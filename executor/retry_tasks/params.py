"""The drainer's parameter: the job's executorParams, as `key=value` words.

    budget_s=20 batch=500 concurrency=8 lease_s=60 task_codes=CLASSROOM_COPY,SEND_SMS
    redrive=all | redrive=task_code:SEND_SMS | redrive=request_no:R-20260101-0001

Words are separated by blanks; every key is optional and may appear once. An empty parameter
means all defaults. A bad word fails the run with a message naming the key.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from .errors import DrainerParamError
from .maintenance import RedriveScope

#: Without a job timeout, a drainer run stops claiming after this long.
DEFAULT_BUDGET_S = 30.0
#: With a job timeout, the run stops claiming after this share of it (the rest is for finishing).
BUDGET_SHARE_OF_TIMEOUT = 0.8
DEFAULT_BATCH = 500
DEFAULT_CONCURRENCY = 8
DEFAULT_LEASE_S = 60.0
MAX_BATCH = 5_000
MAX_CONCURRENCY = 256
MIN_LEASE_S = 5.0
MAX_SECONDS = 86_400.0

_CODE = re.compile(r"^[^\s,]{1,64}$")


@dataclass(frozen=True)
class DrainerParams:
    #: Seconds after which the run stops claiming; None = derived from the job timeout.
    budget_s: float | None = None
    batch: int = DEFAULT_BATCH
    concurrency: int = DEFAULT_CONCURRENCY
    lease_s: float = DEFAULT_LEASE_S
    #: Only these task codes are claimed; None = every task code.
    task_codes: tuple[str, ...] | None = None
    #: Dead tasks of this shard to re-queue before draining.
    redrive: RedriveScope | None = None

    def effective_budget_s(self, timeout_s: int) -> float:
        if self.budget_s is not None:
            return self.budget_s
        if timeout_s > 0:
            return max(1.0, timeout_s * BUDGET_SHARE_OF_TIMEOUT)
        return DEFAULT_BUDGET_S

    def to_text(self) -> str:
        """The parameter string that parses back to these values."""
        words = []
        if self.budget_s is not None:
            words.append(f"budget_s={self.budget_s:g}")
        words += [f"batch={self.batch}", f"concurrency={self.concurrency}", f"lease_s={self.lease_s:g}"]
        if self.task_codes:
            words.append("task_codes=" + ",".join(self.task_codes))
        if self.redrive is not None:
            words.append("redrive=" + self.redrive.to_text())
        return " ".join(words)


def _number(key: str, raw: str, low: float, high: float) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise DrainerParamError(key, raw, "expected a number of seconds") from None
    if not math.isfinite(value) or not low <= value <= high:
        raise DrainerParamError(key, raw, f"must be between {low:g} and {high:g}")
    return value


def _integer(key: str, raw: str, low: int, high: int) -> int:
    if not re.fullmatch(r"[0-9]+", raw):
        raise DrainerParamError(key, raw, "expected a whole number")
    value = int(raw)
    if not low <= value <= high:
        raise DrainerParamError(key, raw, f"must be between {low} and {high}")
    return value


def _task_codes(raw: str) -> tuple[str, ...]:
    codes = tuple(part.strip() for part in raw.split(","))
    if not raw or any(not _CODE.match(code) for code in codes):
        raise DrainerParamError("task_codes", raw, "expected a comma-separated list of task codes (1-64 characters each)")
    return tuple(dict.fromkeys(codes))


def _redrive(raw: str) -> RedriveScope:
    try:
        return RedriveScope.parse(raw)
    except ValueError as exc:
        raise DrainerParamError("redrive", raw, str(exc)) from None


def parse_drainer_params(text: str | None) -> DrainerParams:
    """Parse the drainer's parameter string; raises `DrainerParamError` naming the bad key."""
    values: dict[str, object] = {}
    for word in (text or "").split():
        key, sep, raw = word.partition("=")
        if not sep:
            raise DrainerParamError(word, None, "expected key=value (keys: budget_s, batch, concurrency, lease_s, task_codes, redrive)")
        if key in values:
            raise DrainerParamError(key, raw, "given more than once")
        if key == "budget_s":
            values[key] = _number(key, raw, 0.001, MAX_SECONDS)
        elif key == "batch":
            values[key] = _integer(key, raw, 1, MAX_BATCH)
        elif key == "concurrency":
            values[key] = _integer(key, raw, 1, MAX_CONCURRENCY)
        elif key == "lease_s":
            values[key] = _number(key, raw, MIN_LEASE_S, MAX_SECONDS)
        elif key == "task_codes":
            values[key] = _task_codes(raw)
        elif key == "redrive":
            values[key] = _redrive(raw)
        else:
            raise DrainerParamError(key, raw, "unknown key (keys: budget_s, batch, concurrency, lease_s, task_codes, redrive)")
    return DrainerParams(**values)  # type: ignore[arg-type]
