"""Login throttling by account *and* client address, with growing delays.

Failures are counted under two keys: the pair (account name, client address) and the client
address alone. A key's first `free_failures` failures cost nothing; each further one makes that
key wait before its next attempt is even checked, twice as long each time (1 s, 2 s, 4 s, ...)
up to `max_delay_s`. Nothing is counted per account alone, so a stranger guessing from address X
slows only X: the owner logging in from address Y is not delayed at all. An address that sprays
many accounts meets the address key (`free_failures * ADDRESS_FACTOR` free failures).

A right password resets the pair's count. Counters live in sc_login_throttle (shared by every
worker and node); a key idle for `FORGET_AFTER_MS` is forgotten. Time comes from the caller's
`now_ms` (the injected clock). The names in keys are hashed, so the table holds no user names
or addresses in clear.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import changed_rows
from ..models import LoginThrottle

#: The address key allows this many times the pair's free failures (several users behind one
#: address mistype too).
ADDRESS_FACTOR = 4
FIRST_DELAY_MS = 1_000
FORGET_AFTER_MS = 24 * 3_600_000


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int = 5
    max_delay_s: int = 300

    def delay_ms(self, failures: int, free: int) -> int:
        """How long a key waits after its `failures`-th failure (0 within the free ones)."""
        if failures <= free:
            return 0
        doublings = min(failures - free - 1, 40)
        return min(FIRST_DELAY_MS << doublings, self.max_delay_s * 1000)


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8")).hexdigest()


def _keys(username: str, address: str, policy: ThrottlePolicy) -> list[tuple[str, int]]:
    """(key hash, free failures) of the pair and of the address."""
    name = username.casefold() if isinstance(username, str) else ""
    return [
        (_digest("account+address", name, address), policy.free_failures),
        (_digest("address", address), policy.free_failures * ADDRESS_FACTOR),
    ]


def wait_ms(session: Session, username: str, address: str, now_ms: int, policy: ThrottlePolicy) -> int:
    """How long this (account, address) must still wait before an attempt is checked (0: go)."""
    hashes = [key for key, _ in _keys(username, address, policy)]
    blocked = session.scalar(sa.select(sa.func.max(LoginThrottle.blocked_until_ms)).where(LoginThrottle.key_hash.in_(hashes)))
    return max(0, (blocked or 0) - now_ms)


def record_failure(session: Session, username: str, address: str, now_ms: int, policy: ThrottlePolicy) -> None:
    """Count a wrong password under both keys; a key past its free failures gets its next delay."""
    session.execute(sa.delete(LoginThrottle).where(LoginThrottle.last_failure_at_ms < now_ms - FORGET_AFTER_MS))
    for key, free in _keys(username, address, policy):
        failures = _increment(session, key, now_ms)
        delay = policy.delay_ms(failures, free)
        if delay:
            session.execute(sa.update(LoginThrottle).where(LoginThrottle.key_hash == key).values(blocked_until_ms=now_ms + delay))
    session.flush()


def record_success(session: Session, username: str, address: str, policy: ThrottlePolicy) -> None:
    pair, _ = _keys(username, address, policy)[0]
    session.execute(sa.delete(LoginThrottle).where(LoginThrottle.key_hash == pair))


def _increment(session: Session, key: str, now_ms: int) -> int:
    """failures += 1 for the key (one atomic UPDATE, so parallel guesses all count); the new count."""
    values = {"failures": LoginThrottle.failures + 1, "last_failure_at_ms": now_ms}
    if not changed_rows(session.execute(sa.update(LoginThrottle).where(LoginThrottle.key_hash == key).values(**values))):
        try:
            with session.begin_nested():
                session.add(LoginThrottle(key_hash=key, failures=1, blocked_until_ms=0, last_failure_at_ms=now_ms))
                session.flush()
        except IntegrityError:  # another request inserted it a moment ago
            session.execute(sa.update(LoginThrottle).where(LoginThrottle.key_hash == key).values(**values))
    return session.scalar(sa.select(LoginThrottle.failures).where(LoginThrottle.key_hash == key)) or 1
