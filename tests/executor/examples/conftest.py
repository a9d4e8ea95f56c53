"""A key prefix of the test's own on the local Redis (the four-stores recipe's cache)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

REDIS_URL = "redis://127.0.0.1:6379/0"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A key prefix of this test's own on the local Redis; its keys are deleted afterwards."""
    redis = pytest.importorskip("redis") if not IN_CI else __import__("redis")
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    try:
        client.ping()
    except redis.RedisError as exc:
        client.close()
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is unreachable: {exc} (CI=true: the four-stores test must not skip)")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
    prefix = f"sc_stores_test_{uuid.uuid4().hex[:10]}:"
    try:
        yield prefix
    finally:
        keys = list(client.scan_iter(match=f"{prefix}*"))
        if keys:
            client.delete(*keys)
        client.close()
