"""The console's "Import / export" page: download the export; upload a document, read the dry
run's plan, then confirm to import it (the document travels in the confirming form)."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, g, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..auth import require_actor
from ..i18n import localize
from ..services.errors import ServiceError
from ..services.group_options import list_group_options
from ..transfer.document import FORMATS, read_document, write_document
from ..transfer.export import build_export
from ..transfer.importer import ImportRefused, import_document
from ..transfer.plan import ImportOptions, ImportPlan, OnConflict
from . import bp
from .context import admin_ctx, now_ms

CONFLICT_OPTIONS = [
    (OnConflict.SKIP.value, _l("skip — leave groups and jobs that exist as they are")),
    (OnConflict.UPDATE.value, _l("update — overwrite them with the document's settings")),
    (OnConflict.FAIL.value, _l("fail — refuse the import if any exists")),
]


def _options() -> ImportOptions:
    raw = request.form.get("on_conflict", OnConflict.SKIP.value)
    on_conflict = OnConflict(raw) if raw in {c.value for c in OnConflict} else OnConflict.SKIP
    return ImportOptions(on_conflict=on_conflict, keep_state=request.form.get("keep_state") in ("1", "on", "true"))


def _page(status: int = 200, **context: Any):
    with admin_ctx().db.read_session() as session:
        groups = [option.app_name for option in list_group_options(session, g.actor)]
    form = {"on_conflict": request.form.get("on_conflict", OnConflict.SKIP.value), "keep_state": request.form.get("keep_state") in ("1", "on", "true")}
    context.setdefault("plan", None)
    context.setdefault("problems", [])
    context.setdefault("error", None)
    context.setdefault("document", None)
    return render_template(
        "transfer.html", groups=groups, form=form, conflict_options=[(v, str(label)) for v, label in CONFLICT_OPTIONS], max_bytes=admin_ctx().config.import_max_bytes, **context
    ), status


@bp.get("/transfer")
@require_actor
def transfer_page():
    return _page()


@bp.get("/transfer/export")
@require_actor
def transfer_export():
    fmt = request.args.get("format", "json")
    if fmt not in FORMATS:
        fmt = "json"
    app_names = [name for name in request.args.getlist("group") if name] or None
    try:
        with admin_ctx().db.read_session() as session:
            document = build_export(session, app_names, g.actor)
    except ServiceError as exc:
        return _page(400, error=localize(exc.message))
    filename = f"shardcron-export.{fmt}"
    return Response(
        write_document(document, fmt),
        mimetype="application/json" if fmt == "json" else "application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _run(raw: bytes | str, filename: str | None, *, dry_run: bool) -> tuple[ImportPlan | None, list[str], str | None]:
    """The plan, or the problems, or one error line."""
    ctx = admin_ctx()
    try:
        document = read_document(raw, max_bytes=ctx.config.import_max_bytes, filename=filename)
        session_of = ctx.db.read_session if dry_run else ctx.db.session
        with session_of() as session:
            plan = import_document(
                session, g.actor, document, _options(), dry_run=dry_run, now_ms=now_ms(), default_timezone=ctx.config.default_timezone, max_calendar_entries=ctx.config.calendar_max_entries,
                max_workflow_steps=ctx.config.workflow_max_steps,
            )
    except ImportRefused as exc:
        return None, [localize(problem.line()) for problem in exc.problems], localize(exc.message)
    except ServiceError as exc:
        return None, [], localize(exc.message)
    return plan, [], None


@bp.post("/transfer/check")
@require_actor
def transfer_check():
    upload = request.files.get("document")
    if upload is None or not upload.filename:
        return _page(400, error=_("Choose a file to import."))
    raw = upload.read(admin_ctx().config.import_max_bytes + 1)
    plan, problems, error = _run(raw, upload.filename, dry_run=True)
    if plan is None:
        return _page(400, problems=problems, error=_("Nothing was imported: %(problem)s", problem=error) if not problems else _("Nothing was imported; the document has these problems:"))
    return _page(plan=plan, dry_run=True, document=raw.decode("utf-8-sig"))


@bp.post("/transfer/import")
@require_actor
def transfer_import():
    text = request.form.get("document", "")
    plan, problems, error = _run(text, None, dry_run=False)
    if plan is None:
        return _page(400, problems=problems, error=_("Nothing was imported: %(problem)s", problem=error) if not problems else _("Nothing was imported; the document has these problems:"))
    flash(_("Imported in one transaction."), "success")
    return _page(plan=plan, dry_run=False)
