"""Run a few calls in threads released at the same instant (a barrier), as nodes racing would."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_together(calls: list[Callable[[], object]], timeout_s: float = 30.0) -> None:
    """Each call in its own thread, all released together; fails on any call's exception or a
    thread still running after `timeout_s`."""
    barrier = threading.Barrier(len(calls), timeout=10)
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            barrier.wait()
            call()
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout_s)
    assert not errors, errors
    assert not any(thread.is_alive() for thread in threads)
