"""Registration with the admins: `/api/registry` at start and every `interval_s`,
`/api/registryRemove` on a graceful stop. Admins are tried in turn; the first that accepts is
enough (admins share one database). An unreachable admin is logged and retried, never fatal.
"""

from __future__ import annotations

import logging
import threading

from .admin_client import AdminClient, AdminUnavailable
from shardcron.core.clock import Clock
from shardcron.core.protocol import RegistryParam

log = logging.getLogger("shardcron.executor.registry")

#: After a failed registration, try again this soon rather than a whole interval later.
RETRY_AFTER_FAILURE_S = 5.0


class Registrar:
    def __init__(self, client: AdminClient, clock: Clock, app_name: str, interval_s: float, *, insecure: bool = False) -> None:
        self._client = client
        self._clock = clock
        self._app_name = app_name
        self._interval_s = interval_s
        self._insecure = insecure
        self._address: str | None = None
        self._next_at_s: float | None = None
        self._registered = False
        self._lock = threading.Lock()

    def set_address(self, address: str) -> None:
        """The URL admins call this executor at; registration starts with the next tick."""
        self._address = address
        self._next_at_s = self._clock.monotonic()

    @property
    def registered(self) -> bool:
        return self._registered

    def tick(self) -> float:
        """Register if due; returns the seconds until the next registration."""
        with self._lock:
            if self._address is None or self._next_at_s is None:
                return self._interval_s
            now_s = self._clock.monotonic()
            if now_s < self._next_at_s:
                return self._next_at_s - now_s
            param = RegistryParam(registry_key=self._app_name, registry_value=self._address)
            if self._insecure:
                log.warning(
                    "INSECURE executor registering: it accepts calls WITHOUT an access token",
                    extra={"app_name": self._app_name, "address": self._address},
                )
            try:
                accepted = self._client.post("registry", param.to_wire())
            except AdminUnavailable as exc:
                self._next_at_s = now_s + min(RETRY_AFTER_FAILURE_S, self._interval_s)
                log.warning("registration failed, will retry", extra={"app_name": self._app_name, "error": str(exc)})
                self._registered = False
                return self._next_at_s - now_s
            if not self._registered:
                log.info("registered", extra={"app_name": self._app_name, "address": self._address, "admin": accepted.admin})
            self._registered = True
            self._next_at_s = now_s + self._interval_s
            return self._interval_s

    def deregister(self) -> bool:
        """Stop registering and tell the admins this executor is gone; True if one accepted."""
        with self._lock:
            address, self._address, self._next_at_s = self._address, None, None
            if address is None:
                return False
            param = RegistryParam(registry_key=self._app_name, registry_value=address)
            try:
                accepted = self._client.post("registryRemove", param.to_wire())
            except AdminUnavailable as exc:
                log.warning("deregistration failed; the admins will drop this executor when its heartbeat stops", extra={"error": str(exc)})
                return False
            self._registered = False
            log.info("deregistered", extra={"app_name": self._app_name, "address": address, "admin": accepted.admin})
            return True

    def close(self) -> None:
        self._client.close()
