"""Executor groups: the list with each group's live executors, create/edit (admins), delete."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..auth import require_actor, require_admin
from ..enums import AddressType, CapPolicy
from ..services import groups
from ..services.errors import NotFound, ServiceError
from ..i18n import localize, localize_fields
from . import bp
from .context import admin_ctx, now_ms

ADDRESS_TYPE_OPTIONS = [
    (AddressType.AUTO.value, _l("AUTO — executors register themselves")),
    (AddressType.MANUAL.value, _l("MANUAL — addresses listed here")),
]
CAP_POLICY_OPTIONS = [
    (CapPolicy.WAIT.value, _l("WAIT — the fire waits for a free slot, up to the wait below")),
    (CapPolicy.SKIP.value, _l("SKIP — the fire is skipped")),
]
#: A new group's form: no cap, WAIT up to 60 s (services.caps.GROUP_CAP_DEFAULTS).
_NEW_FORM = {"app_name": "", "title": "", "address_type": "AUTO", "manual_addresses": "", "cap_runs": "", "cap_policy": "WAIT", "cap_wait_s": "60"}


@bp.get("/groups")
@require_actor
def groups_list():
    with admin_ctx().db.read_session() as session:
        rows = groups.list_groups(session, g.actor, now_ms())
    return render_template("groups.html", groups=rows, now_ms=now_ms())


def _form_data() -> dict[str, str]:
    return {
        "app_name": request.form.get("app_name", "").strip(),
        "title": request.form.get("title", "").strip(),
        "address_type": request.form.get("address_type", AddressType.AUTO.value),
        "manual_addresses": request.form.get("manual_addresses", ""),
        # Absent (an older form): the defaults of a new group, no cap.
        "cap_runs": request.form.get("cap_runs", "").strip(),
        "cap_policy": request.form.get("cap_policy", CapPolicy.WAIT.value),
        "cap_wait_s": request.form.get("cap_wait_s", "").strip(),
    }


def _render_form(group, form: dict, errors: dict, error: str | None, status: int):
    return render_template(
        "group_form.html", group=group, form=form, errors=errors, error=error,
        address_types=[(value, str(label)) for value, label in ADDRESS_TYPE_OPTIONS],
        cap_policies=[(value, str(label)) for value, label in CAP_POLICY_OPTIONS],
    ), status


@bp.route("/groups/new", methods=["GET", "POST"])
@require_admin
def group_new():
    if request.method == "GET":
        return _render_form(None, dict(_NEW_FORM), {}, None, 200)
    form = _form_data()
    try:
        with admin_ctx().db.session() as session:
            created = groups.create_group(session, g.actor, form, now_ms=now_ms())
    except ServiceError as exc:
        return _render_form(None, form, localize_fields(exc.field_errors), localize(exc.message), 400)
    flash(_("Executor group %(name)s created.", name=created.app_name), "success")
    return redirect(url_for("web.groups_list"))


@bp.route("/groups/<id:group_id>", methods=["GET", "POST"])
@require_admin
def group_edit(group_id: int):
    try:
        with admin_ctx().db.read_session() as session:
            group = groups.get_group(session, g.actor, group_id, now_ms())
    except NotFound:
        abort(404)
    if request.method == "GET":
        form = {
            "app_name": group.app_name,
            "title": group.title,
            "address_type": group.address_type.value,
            "manual_addresses": "\n".join(group.manual_addresses),
            "cap_runs": "" if group.cap_runs is None else str(group.cap_runs),
            "cap_policy": group.cap_policy.value,
            "cap_wait_s": str(group.cap_wait_s),
        }
        return _render_form(group, form, {}, None, 200)
    form = _form_data()
    try:
        with admin_ctx().db.session() as session:
            groups.update_group(session, g.actor, group_id, form, now_ms=now_ms())
    except ServiceError as exc:
        return _render_form(group, form, localize_fields(exc.field_errors), localize(exc.message), 400)
    flash(_("Executor group %(name)s saved.", name=form["app_name"]), "success")
    return redirect(url_for("web.groups_list"))


@bp.post("/groups/<id:group_id>/delete")
@require_admin
def group_delete(group_id: int):
    try:
        with admin_ctx().db.session() as session:
            groups.delete_group(session, g.actor, group_id, now_ms=now_ms())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(localize(exc.message), "error")
        return redirect(url_for("web.groups_list"))
    flash(_("Executor group deleted."), "success")
    return redirect(url_for("web.groups_list"))
