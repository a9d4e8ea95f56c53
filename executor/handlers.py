"""The job handlers an application registers with `@executor.job(name)`."""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .context import JobContext
from shardcron.core.errors import ShardcronError
from .outcome import Outcome
from shardcron.core.protocol import MAX_HANDLER_CHARS

log = logging.getLogger("shardcron.executor.handlers")

Handler = Callable[[JobContext], Any]


class HandlerError(ShardcronError):
    """A handler cannot be registered (bad or duplicate name, not callable)."""


@dataclass(frozen=True)
class JobHandler:
    """A registered handler. `init` runs once per job worker, in the thread of its first run with
    this handler; `destroy` once when that worker retires (idle, shutdown) or its job switches to
    another handler."""

    name: str
    func: Handler
    init: Callable[[], Any] | None = None
    destroy: Callable[[], Any] | None = None


class HandlerRegistry:
    """Handlers by name; a name is registered once."""

    def __init__(self) -> None:
        self._handlers: dict[str, JobHandler] = {}
        self._lock = threading.Lock()

    def register(self, handler: JobHandler) -> JobHandler:
        name = handler.name
        if not isinstance(name, str) or not name.strip() or name != name.strip() or len(name) > MAX_HANDLER_CHARS:
            raise HandlerError(f"job handler name {name!r} must be 1-{MAX_HANDLER_CHARS} characters without surrounding spaces")
        for what, fn in (("handler", handler.func), ("init", handler.init), ("destroy", handler.destroy)):
            if fn is not None and not callable(fn):
                raise HandlerError(f"job handler {name!r}: {what} {fn!r} is not callable")
        with self._lock:
            if name in self._handlers:
                raise HandlerError(f"job handler {name!r} is already registered (by {_describe(self._handlers[name].func)})")
            self._handlers[name] = handler
        return handler

    def get(self, name: str) -> JobHandler | None:
        return self._handlers.get(name)

    def names(self) -> list[str]:
        return sorted(self._handlers)


def _describe(func: Any) -> str:
    module = getattr(func, "__module__", None) or "?"
    qualname = getattr(func, "__qualname__", None) or repr(func)
    return f"{module}.{qualname}"


def init_handler(handler: JobHandler, write_log: Callable[[str], None]) -> Outcome | None:
    """Run the handler's init; an Outcome when it failed (the run fails, the next run retries)."""
    if handler.init is None:
        return None
    try:
        handler.init()
    except Exception as exc:
        return Outcome.fail(f"init of job handler [{handler.name}] failed: {type(exc).__name__}: {exc}", traceback.format_exc().rstrip())
    write_log(f"job handler [{handler.name}] initialized")
    return None


def destroy_handler(handler: JobHandler, job_id: int) -> None:
    if handler.destroy is None:
        return
    try:
        handler.destroy()
    except Exception:
        log.exception("job handler destroy failed", extra={"handler": handler.name, "job_id": job_id})
