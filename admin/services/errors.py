"""Errors the services raise: one base, an HTTP-ish status, per-field messages, the id it is about.

The console turns a `ServiceError` into a flash message plus messages beside the form fields; the
REST API turns it into `{"error": {"message": ..., "fields": {...}}}` with `status` as the HTTP
status. A service raises before it writes anything, or inside the caller's transaction (which is
then rolled back), so a refused request never leaves half a change behind.
"""

from __future__ import annotations

from collections.abc import Mapping

from shardcron.core.errors import ShardcronError


class ServiceError(ShardcronError):
    """A request a service refuses. `field_errors` maps an input field to what is wrong with it."""

    status = 400

    def __init__(
        self,
        message: str,
        *,
        field_errors: Mapping[str, str] | None = None,
        status: int | None = None,
        object_id: int | str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors: dict[str, str] = dict(field_errors or {})
        if status is not None:
            self.status = status
        #: The id of the object the error is about (a job id, a user id, ...), when there is one.
        self.object_id = object_id


class NotFound(ServiceError):
    """No such object, or one the actor may not see (both look the same to the actor)."""

    status = 404

    def __init__(self, kind: str, object_id: int | str | None, message: str | None = None) -> None:
        self.kind = kind
        super().__init__(message or f"{kind} {object_id} not found", object_id=object_id)


class Forbidden(ServiceError):
    """The actor is known but may not do this."""

    status = 403

    def __init__(self, message: str, *, object_id: int | str | None = None, field_errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message, object_id=object_id, field_errors=field_errors)


class Conflict(ServiceError):
    """The request clashes with the current state (a duplicate name, a group that still has jobs)."""

    status = 409

    def __init__(self, message: str, *, object_id: int | str | None = None, field_errors: Mapping[str, str] | None = None) -> None:
        super().__init__(message, object_id=object_id, field_errors=field_errors)


class FieldErrors:
    """Collects per-field messages while a form or JSON body is checked, then raises them at once,
    so the user sees every problem of the form in one answer, not one per try."""

    def __init__(self) -> None:
        self.errors: dict[str, str] = {}

    def add(self, field: str, message: str) -> None:
        # The first problem of a field is the one worth reading; later ones usually follow from it.
        self.errors.setdefault(field, message)

    def __contains__(self, field: str) -> bool:
        return field in self.errors

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self, what: str, *, object_id: int | str | None = None) -> None:
        if self.errors:
            count = len(self.errors)
            detail = "; ".join(f"{field}: {message}" for field, message in self.errors.items())
            raise ServiceError(
                f"{what}: {count} invalid field{'s' if count > 1 else ''} ({detail})",
                field_errors=self.errors,
                object_id=object_id,
            )
