"""Run-log clean-up for admins: choose a job or a group and the criteria, see how many runs would
go (counted by the delete's own condition), confirm, delete in batches, audited."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import ngettext

from ..auth import require_actor
from ..services import job_names, run_cleanup
from ..i18n import localize, localize_fields
from ..services.errors import ServiceError
from ..services.numbers import optional_id
from . import bp
from .context import admin_ctx, now_ms
from .group_choices import group_choices
from ..texts import _t

FIELDS = ("group_id", "job", "older_than_days", "keep_last")


def _request_from(form: dict[str, str]) -> run_cleanup.CleanupRequest:
    """The job field holds a name or an id; a name is looked up (within the chosen group, if any)."""
    values: dict[str, Any] = {k: form.get(k, "") for k in ("group_id", "older_than_days", "keep_last")}
    job = form.get("job", "").strip()
    if job and job_names.job_field_key(job) == "job_id":
        values["job_id"], values["group_id"] = job, ""
    elif job:
        group_id = optional_id(values["group_id"], "group_id", message=_t("bad clean-up request"))
        with admin_ctx().db.read_session() as session:
            ids = job_names.job_ids_named(session, g.actor, job, group_id=group_id)
        if not ids:
            raise ServiceError(_t("bad clean-up request"), field_errors={"job": _t("no job is named %(name)s", name=job)})
        if len(ids) > 1:
            raise ServiceError(_t("bad clean-up request"), field_errors={"job": _t("several jobs are named %(name)s (ids %(ids)s): give its id", name=job, ids=", ".join(map(str, ids)))})
        values["job_id"], values["group_id"] = str(ids[0]), ""
    try:
        return run_cleanup.CleanupRequest.parse(values)
    except ServiceError as exc:  # the form's field is "job"
        exc.field_errors = {("job" if k == "job_id" else k): v for k, v in exc.field_errors.items()}
        raise


@bp.get("/runs/cleanup")
@require_actor
def runs_cleanup():
    if not g.actor.is_admin:
        abort(403)
    form = {k: request.args.get(k, "") for k in FIELDS}
    preview, errors = None, {}
    if form["older_than_days"] or form["keep_last"]:
        try:
            req = _request_from(form)
            with admin_ctx().db.read_session() as session:
                preview = run_cleanup.preview_cleanup(session, g.actor, req, now_ms=now_ms())
        except ServiceError as exc:
            errors = localize_fields(exc.field_errors) or {"job": localize(exc.message)}
    with admin_ctx().db.read_session() as session:
        groups = group_choices(session, g.actor)
    return render_template("runs_cleanup.html", form=form, groups=groups, preview=preview, errors=errors), (400 if errors else 200)


@bp.post("/runs/cleanup")
@require_actor
def runs_cleanup_confirm():
    if not g.actor.is_admin:
        abort(403)
    form = {k: request.form.get(k, "") for k in FIELDS}
    try:
        req = _request_from(form)
        result = run_cleanup.clean_up_runs(admin_ctx().db, g.actor, req, now_ms=now_ms())
    except ServiceError as exc:
        flash(localize(exc.message) + "".join(f"; {k}: {v}" for k, v in localize_fields(exc.field_errors).items()), "error")
        return redirect(url_for("web.runs_cleanup", group_id=form["group_id"] or None, job=form["job"] or None,
                                older_than_days=form["older_than_days"] or None, keep_last=form["keep_last"] or None))
    flash(ngettext("Deleted %(num)d run of %(name)s.", "Deleted %(num)d runs of %(name)s.", result.deleted, name=result.scope.name), "success")
    if req.job_id is not None:
        return redirect(url_for("web.runs_list", job_id=result.scope.target_id))
    return redirect(url_for("web.runs_list", group_id=result.scope.target_id))
