"""When a failed task is tried again: exponential backoff with jitter and a cap.

The n-th retry waits `base_s * factor ** (n - 1)` seconds, capped at `cap_s`, then moved by up to
`jitter` of itself either way (so a burst of failures does not come back as a burst), and capped
again. With the defaults a task is retried after about 10 s, 20 s, 40 s, ... up to one hour.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from .errors import TaskInputError


@dataclass(frozen=True)
class Backoff:
    base_s: float = 10.0
    factor: float = 2.0
    cap_s: float = 3600.0
    #: Fraction of the delay added or removed at random: 0.2 means +-20 %. 0 makes it exact.
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not (isinstance(self.base_s, (int, float)) and math.isfinite(self.base_s) and self.base_s >= 0):
            raise TaskInputError("backoff base_s", self.base_s, "must be a finite number >= 0")
        if not (isinstance(self.factor, (int, float)) and math.isfinite(self.factor) and self.factor >= 1):
            raise TaskInputError("backoff factor", self.factor, "must be a finite number >= 1")
        if not (isinstance(self.cap_s, (int, float)) and math.isfinite(self.cap_s) and self.cap_s >= self.base_s):
            raise TaskInputError("backoff cap_s", self.cap_s, f"must be a finite number >= base_s ({self.base_s:g})")
        if not (isinstance(self.jitter, (int, float)) and 0 <= self.jitter < 1):
            raise TaskInputError("backoff jitter", self.jitter, "must be at least 0 and below 1")

    def nominal_delay_s(self, failures: int) -> float:
        """The delay before the next attempt after `failures` failed attempts (>= 1), without jitter."""
        if failures < 1:
            raise ValueError(f"failures must be >= 1, got {failures}")
        if self.base_s == 0:
            return 0.0
        exponent = failures - 1
        # Compare in log space: factor ** exponent overflows a float long before attempts run out.
        if self.factor > 1 and exponent * math.log(self.factor) >= math.log(self.cap_s / self.base_s):
            return float(self.cap_s)
        return min(float(self.cap_s), self.base_s * self.factor**exponent)

    def delay_s(self, failures: int, rng: random.Random) -> float:
        """The jittered delay, never above `cap_s` and never negative."""
        nominal = self.nominal_delay_s(failures)
        if self.jitter == 0 or nominal == 0:
            return nominal
        spread = nominal * self.jitter
        return max(0.0, min(float(self.cap_s), nominal - spread + 2 * spread * rng.random()))

    def delay_ms(self, failures: int, rng: random.Random) -> int:
        return round(self.delay_s(failures, rng) * 1000)
