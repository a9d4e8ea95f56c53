"""A real shardcron executor on loopback with two handlers, for admin-side tests that call it.

`hello` writes three log lines ("line i of shard s") and returns "said hello"; `wait` runs until
it is killed or the context ends (cooperative cancellation).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shardcron.executor import Executor


@contextmanager
def hello_executor(data_dir: Path, admin_url: str, token: str, app_name: str) -> Iterator[Executor]:
    release = threading.Event()
    ex = Executor(
        app_name=app_name,
        admin_addresses=[admin_url],
        access_token=token,
        listen="127.0.0.1:0",
        data_dir=str(data_dir),
        shutdown_timeout_s=5,
        env={},
    )

    @ex.job("hello")
    def hello(ctx):
        for i in range(3):
            ctx.log("line %d of shard %s", i, ctx.shard_index)
        return "said hello"

    @ex.job("wait")
    def wait(ctx):
        while not ctx.cancelled and not release.is_set():
            release.wait(0.01)
        ctx.check_cancelled()

    ex.start()
    try:
        yield ex
    finally:
        release.set()
        ex.stop(timeout_s=5)
