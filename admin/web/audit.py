"""The audit page: who changed what, when and from where, filtered and paged like the runs page.

Admins see every entry; users the entries of their groups (services.audit_query scopes it).
"""

from __future__ import annotations

import json

from flask import g, render_template, request
from flask_babel import gettext as _

from ..auth import require_actor
from ..enums import ActorKind, AuditAction, AuditTarget
from ..services import audit_query
from ..services.errors import ServiceError
from ..services.paging import PageRequest
from ..i18n import localize, localize_fields
from . import bp
from .context import admin_ctx, now_ms
from .group_choices import group_choices
from .times import utc_input_to_ms

#: The "last ..." choices of the time filter, in milliseconds.
RANGES = {"1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000}
FILTER_KEYS = ("actor", "actor_kind", "action", "target_type", "target_id", "group_id", "range", "from", "to", "per_page")


def _filter_values(args: dict[str, str]) -> tuple[dict[str, str | None], dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, str | None] = {k: args.get(k) for k in ("actor", "actor_kind", "action", "target_type", "target_id", "group_id")}
    if args.get("range"):
        if args["range"] not in RANGES:
            errors["range"] = _("must be one of %(choices)s", choices=", ".join(RANGES))
        else:
            values["from_ms"] = str(now_ms() - RANGES[args["range"]])
    else:
        values["from_ms"] = utc_input_to_ms(args.get("from", ""), "from", errors)
        values["to_ms"] = utc_input_to_ms(args.get("to", ""), "to", errors)
    return values, errors


def field_changes(entry: audit_query.AuditEntryView) -> list[tuple[str, object, object, bool, bool]]:
    """(field, before, after, had before, has after) per field named on either side, by name."""
    before, after = entry.before or {}, entry.after or {}
    return [(name, before.get(name), after.get(name), name in before, name in after) for name in sorted(set(before) | set(after))]


def shown(value: object) -> str:
    """A field's value as short text (autoescaped by the template): none as "—", lists joined."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(shown(v) for v in value) or "(none)"
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if value == "":
        return '""'
    return str(value)


@bp.get("/audit")
@require_actor
def audit_list():
    args = {key: request.args[key] for key in FILTER_KEYS if request.args.get(key)}
    page = None
    values, errors = _filter_values(args)
    with admin_ctx().db.read_session() as session:
        group_options = group_choices(session, g.actor)
        if not errors:
            try:
                flt = audit_query.AuditFilter.parse(values)
                page = audit_query.list_entries(session, g.actor, flt, PageRequest.parse(request.args.get("page"), args.get("per_page")))
            except ServiceError as exc:
                errors = localize_fields(exc.field_errors) or {"filter": localize(exc.message)}
    actions = [(prefix, _("%(prefix)s.* (all)", prefix=prefix)) for prefix in audit_query.ACTION_PREFIXES] + [(a.value, a.value) for a in AuditAction]
    return (
        render_template(
            "audit.html",
            page=page,
            args=args,
            errors=errors,
            groups=group_options,
            group_names=dict(group_options),
            actions=actions,
            actor_kinds=[k.value for k in ActorKind],
            target_types=[t.value for t in AuditTarget],
            ranges=list(RANGES),
            field_changes=field_changes,
            shown=shown,
        ),
        400 if errors else 200,
    )
