"""Counter screens: changes (異動) entered as drafts (仮登録), then committed (本登録) or rejected.

Every kind has one generic form (``change_form``). A draft is always entered first and checked
in full by the register; a clerk commits the routine kinds, while the kinds the register keeps
for supervisors (``Register.needs_supervisor``) wait in the drafts list for a supervisor other
than the one who entered them. Auditors read drafts but never enter, commit or reject them.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import TextAreaField

from jukibridge.change_requests import build_request
from jukibridge.errors import Conflict, NotFound, PermissionDenied, RegisterError
from jukibridge.records import Role
from jukibridge.register import DraftView, Register
from web.app import services
from web.blueprints.counter import blueprint
from web.blueprints.counter.change_form import (
    EXTRA_FIELDS,
    ChangeForm,
    forget_secrets,
    form_class,
    place_error,
    prefill,
    read,
    resident_codes,
    summary,
)
from web.blueprints.counter.display import (
    KIND_HELP,
    STATUS_LABELS,
    era_date,
    explain,
    japanese,
    jst_datetime,
    kind_of_slug,
    slug,
)
from web.blueprints.counter.residents import watch_certificates
from web.blueprints.counter.session import CounterOperator, current_operator, operator_required

ACTORS = (Role.CLERK, Role.SUPERVISOR)
GENERAL = "__all__"  # errors of the form as a whole
REASON_LIMIT = 200
NEEDS_SUPERVISOR = "監督者の確定が必要です。"
NEEDS_OTHER_SUPERVISOR = "監督者の確定が必要です。入力した方とは別の監督者が確定してください。"


class DecisionForm(FlaskForm):
    """Commit a draft: nothing to fill in but the CSRF token."""


class RejectForm(FlaskForm):
    reason = TextAreaField("却下の理由", render_kw={"rows": 2, "maxlength": REASON_LIMIT})


def _register() -> Register:
    return services().register(current_operator().municipality_code)


# -- the drafts list ---------------------------------------------------------------------------


@blueprint.get("/changes")
@operator_required()
def drafts() -> ResponseReturnValue:
    """仮登録一覧: drafts waiting for commit, oldest first."""
    register = _register()
    rows = [(d, resident_codes(d.request), register.needs_supervisor(d.kind))
            for d in register.drafts()]
    return render_template("counter/changes.html", rows=rows, era_date=era_date,
                           jst_datetime=jst_datetime, slug=slug, operator=current_operator())


# -- entering a draft --------------------------------------------------------------------------


@blueprint.route("/changes/new/<kind_slug>", methods=["GET", "POST"])
@operator_required(*ACTORS)
def new_change(kind_slug: str) -> ResponseReturnValue:
    """The form of one change kind; a valid one becomes a draft."""
    kind = kind_of_slug(kind_slug)
    if kind is None:
        abort(404)
    form = form_class(kind)()
    if request.method == "GET":
        if code := request.args.get("resident", ""):
            prefill(form, code)
        return _form_page(form)
    if not form.validate():
        return _form_page(form, {GENERAL: "入力内容を確認してください。"}, status=400)
    reading = read(form)
    if reading.errors:
        return _form_page(form, reading.errors, status=400)
    register = _register()
    try:
        change_request = build_request(kind, reading.values)
        change_id = register.enter(current_operator().login, change_request,
                                   effective_on=reading.effective_on,
                                   notified_on=reading.notified_on, remarks=reading.remarks)
    except RegisterError as exc:
        name, message = place_error(form, exc)
        return _form_page(form, {name or GENERAL: message}, status=_status(exc))
    flash(f"{kind.label}を仮登録しました（異動番号 {change_id}）。"
          + (NEEDS_SUPERVISOR if register.needs_supervisor(kind) else
             "内容を確認して確定してください。"), "success")
    return redirect(url_for("counter.change", change_id=change_id))


def _form_page(form: ChangeForm, errors: dict[str, str] | None = None, *,
               status: int = 200) -> ResponseReturnValue:
    if errors:
        forget_secrets(form)
    kind = form.kind
    fields = [form[name] for name in form.request_fields]
    extra = [form[name] for name in EXTRA_FIELDS]
    return render_template(
        "counter/change_form.html", form=form, kind=kind, kind_slug=slug(kind),
        help=KIND_HELP.get(kind, ""), fields=fields, extra=extra, errors=errors or {},
        general=(errors or {}).get(GENERAL),
        needs_supervisor=_register().needs_supervisor(kind)), status


def _status(exc: RegisterError) -> int:
    if isinstance(exc, PermissionDenied):
        return 403
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, NotFound):
        return 404 if exc.fields.get("change_id") is not None else 400
    return 400


# -- one change: review, commit, reject --------------------------------------------------------


@blueprint.get("/changes/<int:change_id>")
@operator_required()
def change(change_id: int) -> ResponseReturnValue:
    """A change: its items and status; for a draft, the commit and reject forms."""
    return _change_page(_view(change_id))


@blueprint.post("/changes/<int:change_id>/commit")
@operator_required(*ACTORS)
def commit(change_id: int) -> ResponseReturnValue:
    """本登録: apply the draft; then to the (first) resident's record."""
    view = _view(change_id)
    if not DecisionForm().validate():
        return _change_page(view, error="入力内容を確認してください。", status=400)
    try:
        outcome = _register().commit(current_operator().login, change_id)
    except RegisterError as exc:
        if isinstance(exc, NotFound) and exc.fields.get("change_id") is not None:
            raise japanese(exc) from exc
        return _change_page(_view(change_id), error=explain(exc), status=_status(exc))
    flash("異動を確定しました。", "success")
    for certificate_id in outcome.certificate_ids:
        flash(f"転出証明書を作成しました（番号 {certificate_id}）。", "info")
    if not outcome.resident_codes:
        return redirect(url_for("counter.change", change_id=change_id))
    first = outcome.resident_codes[0]
    watch_certificates(first)
    return redirect(url_for("counter.resident", code=first))


@blueprint.post("/changes/<int:change_id>/reject")
@operator_required(*ACTORS)
def reject(change_id: int) -> ResponseReturnValue:
    """却下: the draft is deleted; only the audit log keeps it (with the reason)."""
    view = _view(change_id)
    form = RejectForm()
    if not form.validate():
        return _change_page(view, error="入力内容を確認してください。", status=400)
    reason = (form.reason.data or "").strip()
    if len(reason) > REASON_LIMIT:
        return _change_page(view, error=f"却下の理由は{REASON_LIMIT}文字以内で入力してください。",
                            status=400, reject_form=form)
    try:
        _register().reject(current_operator().login, change_id, reason)
    except RegisterError as exc:
        if isinstance(exc, NotFound):
            raise japanese(exc) from exc
        return _change_page(_view(change_id), error=explain(exc), status=_status(exc))
    flash(f"仮登録を却下しました（異動番号 {change_id}）。", "success")
    return _change_page(view, rejected=True)


def _view(change_id: int) -> DraftView:
    try:
        return _register().change(change_id)
    except RegisterError as exc:
        raise japanese(exc) from exc


def _change_page(view: DraftView, *, error: str | None = None, status: int = 200,
                 rejected: bool = False, reject_form: RejectForm | None = None
                 ) -> ResponseReturnValue:
    operator = current_operator()
    register = _register()
    state = "rejected" if rejected else view.status.value
    return render_template(
        "counter/change.html", view=view, state=state, state_label=STATUS_LABELS[state],
        lines=summary(view.request), codes=resident_codes(view.request),
        kind_slug=slug(view.kind), entered_at=jst_datetime(view.entered_at),
        needs_supervisor=register.needs_supervisor(view.kind),
        may_act=operator.role in ACTORS and state == "draft",
        blocked=_blocked(register, view, operator), error=error,
        commit_form=DecisionForm(formdata=None),
        reject_form=reject_form or RejectForm(formdata=None), era_date=era_date), status


def _blocked(register: Register, view: DraftView, operator: CounterOperator) -> str | None:
    """Why this operator may not commit the draft (None: they may)."""
    if not register.needs_supervisor(view.kind):
        return None
    if operator.role is not Role.SUPERVISOR:
        return NEEDS_SUPERVISOR
    if view.entered_by == operator.login:
        return NEEDS_OTHER_SUPERVISOR
    return None

