"""The job handlers an application registers with `@executor.job(name)`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .context import JobContext
from .errors import ShardcronError
from .protocol import MAX_HANDLER_CHARS

Handler = Callable[[JobContext], Any]


class HandlerError(ShardcronError):
    """A handler cannot be registered (bad or duplicate name, not callable)."""


@dataclass(frozen=True)
class JobHandler:
    """A registered handler. `init` runs once in a job's worker before its first run with this
    handler, `destroy` once when the worker ends or switches to another handler."""

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
