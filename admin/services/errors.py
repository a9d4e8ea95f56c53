"""Errors the services raise: one base, an HTTP-ish status, per-field messages, the id it is about.

The console turns a `ServiceError` into a flash message plus messages beside the form fields; the
REST API turns it into `{"error": {"message": ..., "fields": {...}}}` with `status` as the HTTP
status. Messages are `Text` (admin/texts.py): English wherever a string is read (the REST API
answers in English), rendered again in the viewer's language by the console (`i18n.localize`);
field names stay as they are in both. A service raises before it writes anything, or inside the caller's transaction (which is
then rolled back), so a refused request never leaves half a change behind.
"""

from __future__ import annotations

from collections.abc import Mapping

from shardcron.core.errors import ShardcronError

from ..texts import N_, Text, _nt, _t


class ServiceError(ShardcronError):
    """A request a service refuses. `field_errors` maps an input field to what is wrong with it."""

    status = 400

    def __init__(
        self,
        message: Text,
        *,
        field_errors: Mapping[str, Text] | None = None,
        status: int | None = None,
        object_id: int | str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field_errors: dict[str, Text] = dict(field_errors or {})
        if status is not None:
            self.status = status
        #: The id of the object the error is about (a job id, a user id, ...), when there is one.
        self.object_id = object_id


class NotFound(ServiceError):
    """No such object, or one the actor may not see (both look the same to the actor)."""

    status = 404

    def __init__(self, kind: str, object_id: int | str | None, message: Text | None = None) -> None:
        self.kind = kind
        super().__init__(message or Text(_NOT_FOUND[kind], {"id": object_id}), object_id=object_id)


#: The message of a `NotFound` of each kind (whole sentences: kinds are not glued in).
_NOT_FOUND = {
    "API token": N_("API token %(id)s not found"),
    "backfill": N_("backfill %(id)s not found"),
    "calendar": N_("calendar %(id)s not found"),
    "executor group": N_("executor group %(id)s not found"),
    "fire": N_("fire %(id)s not found"),
    "job": N_("job %(id)s not found"),
    "run": N_("run %(id)s not found"),
    "script version": N_("script version %(id)s not found"),
    "user": N_("user %(id)s not found"),
    "workflow": N_("workflow %(id)s not found"),
}


class Forbidden(ServiceError):
    """The actor is known but may not do this."""

    status = 403

    def __init__(self, message: Text, *, object_id: int | str | None = None, field_errors: Mapping[str, Text] | None = None) -> None:
        super().__init__(message, object_id=object_id, field_errors=field_errors)


class Conflict(ServiceError):
    """The request clashes with the current state (a duplicate name, a group that still has jobs)."""

    status = 409

    def __init__(self, message: Text, *, object_id: int | str | None = None, field_errors: Mapping[str, Text] | None = None) -> None:
        super().__init__(message, object_id=object_id, field_errors=field_errors)


class FieldErrors:
    """Collects per-field messages while a form or JSON body is checked, then raises them at once,
    so the user sees every problem of the form in one answer, not one per try."""

    def __init__(self) -> None:
        self.errors: dict[str, Text] = {}

    def add(self, field: str, message: Text) -> None:
        # The first problem of a field is the one worth reading; later ones usually follow from it.
        self.errors.setdefault(field, message)

    def __contains__(self, field: str) -> bool:
        return field in self.errors

    def __bool__(self) -> bool:
        return bool(self.errors)

    def raise_if_any(self, what: Text, *, object_id: int | str | None = None) -> None:
        if self.errors:
            detail = tuple(_t("%(field)s: %(problem)s", field=field, problem=message) for field, message in self.errors.items())
            raise ServiceError(
                _nt("%(what)s: %(num)d invalid field (%(detail)s)", "%(what)s: %(num)d invalid fields (%(detail)s)", len(self.errors), what=what, detail=detail),
                field_errors=self.errors,
                object_id=object_id,
            )
