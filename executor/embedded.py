"""The executor's own HTTP server: waitress (pure Python, threaded, production-grade), run in a
background thread and stopped cleanly from any thread.

waitress's `run()` loops until the process ends; here the event loop is driven one poll at a
time so `stop()` can end it: it sets a flag and pulls waitress's wake-up trigger, and the loop
thread itself closes every socket (asyncore objects belong to the thread that polls them).

waitress is imported when a server binds, not with the module: `import shardcron.executor`, the
command's `--help` and executors mounted in their host's own WSGI server never load it.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from shardcron.core.errors import ShardcronError
from shardcron.core.protocol import MAX_BODY_BYTES
from shardcron.core.tokens import split_host_port

log = logging.getLogger("shardcron.executor.server")

#: XXL-JOB executors close idle keep-alive connections after 90 s; so does this one.
CHANNEL_TIMEOUT_S = 90
CONNECTION_LIMIT = 1000


class EmbeddedServer:
    def __init__(self, app: Any, listen: str, *, threads: int, ident: str = "shardcron-executor") -> None:
        self._app = app
        self._listen = listen
        self._threads = threads
        self._ident = ident
        self._map: dict[int, Any] = {}
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.port: int | None = None

    def start(self) -> int:
        """`bind()`, then `serve()`; returns the port."""
        port = self.bind()
        self.serve()
        return port

    def bind(self) -> int:
        """Bind and listen (errors surface here, naming the address); returns the port.
        Connections made before `serve()` wait in the kernel's backlog, not refused."""
        from waitress import create_server

        host, port = split_host_port(self._listen)
        try:
            self._server = create_server(
                self._app,
                map=self._map,
                host=host,
                port=port,
                threads=self._threads,
                ident=self._ident,
                max_request_body_size=MAX_BODY_BYTES,
                channel_timeout=CHANNEL_TIMEOUT_S,
                connection_limit=CONNECTION_LIMIT,
                asyncore_use_poll=True,  # select() cannot watch descriptors above 1024
                clear_untrusted_proxy_headers=False,
            )
        except OSError as exc:
            raise ShardcronError(f"cannot listen on {self._listen}: {exc.strerror or exc}") from None
        if hasattr(self._server, "effective_port"):
            self.port = int(self._server.effective_port)
        else:  # several sockets (a name resolving to IPv4 and IPv6)
            self.port = int(self._server.effective_listen[0][1])
        return self.port

    def serve(self) -> None:
        """Answer requests from a background thread (after `bind()`)."""
        if self._server is None:
            raise ShardcronError("the executor server must be bound before it serves")
        self._thread = threading.Thread(target=self._serve, name="shardcron-executor-http", daemon=True)
        self._thread.start()
        log.info("executor server listening", extra={"listen": self._listen, "port": self.port, "threads": self._threads})

    def _serve(self) -> None:
        from waitress import wasyncore

        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=1.0, use_poll=True, map=self._map, count=1)
        finally:
            wasyncore.close_all(self._map)
            self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._server is None or self._stopping.is_set():
            return
        self._stopping.set()
        wake = getattr(self._server, "pull_trigger", None)  # a multi-socket server has none: it wakes within 1 s
        if wake is not None:
            try:
                wake()
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout_s)
        else:  # bound but never served: nobody else closes the sockets
            from waitress import wasyncore

            wasyncore.close_all(self._map)
            self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        log.info("executor server stopped", extra={"listen": self._listen})
