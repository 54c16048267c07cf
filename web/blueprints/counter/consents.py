"""Counter: the resident's consent to the latest basic four service (最新の基本4情報の提供),
given or withdrawn at the counter after the identity check; recorded in the revocation side's
consent records (channel ``counter``) and audited in the register's log."""

from __future__ import annotations

from flask import flash, redirect, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import HiddenField, StringField
from wtforms.validators import AnyOf, DataRequired, Length

from jukibridge import audit
from jukibridge.errors import RegisterError
from jukibridge.records import Role
from revocation.consents import Channel, ConsentState, current, give, withdraw
from revocation.errors import RevocationError
from web.app import services
from web.blueprints.counter import blueprint
from web.blueprints.counter.session import current_operator, operator_required

STATE_LABELS = {
    ConsentState.GIVEN: "同意しています",
    ConsentState.WITHDRAWN: "同意を撤回しています",
    ConsentState.NONE: "同意していません（未登録）",
}


class ConsentForm(FlaskForm):
    action = HiddenField(validators=[AnyOf(["give", "withdraw"])])
    identity_document = StringField("確認した本人確認書類",
                                    validators=[DataRequired(), Length(max=40)])


@blueprint.app_template_global()
def consent_of(resident_code: str) -> tuple[str, str]:
    """The resident's consent state (value, Japanese label) for the record page."""
    state = current(services().sessions, resident_code)
    return state.value, STATE_LABELS[state]


@blueprint.app_template_global()
def consent_form() -> ConsentForm:
    return ConsentForm()


@blueprint.post("/residents/<code>/consent")
@operator_required(Role.CLERK, Role.SUPERVISOR)
def consent(code: str) -> ResponseReturnValue:
    """Record the consent or its withdrawal that the resident asks for at the counter."""
    operator = current_operator()
    form = ConsentForm()
    if not form.validate_on_submit():
        flash("確認した本人確認書類を入力してください。", "error")
        return redirect(url_for("counter.resident", code=code))
    built = services()
    try:
        services().register(operator.municipality_code).record(code, operator=operator.login)
        change = give if form.action.data == "give" else withdraw
        recorded = change(built.sessions, built.clock, code, channel=Channel.COUNTER)
    except RevocationError:
        flash("同意していないため、撤回できません。", "error")
        return redirect(url_for("counter.resident", code=code))
    except RegisterError:
        flash("この住民票コードの住民は見つかりません。", "error")
        return redirect(url_for("counter.home"))
    if recorded.changed:
        with built.sessions() as session, session.begin():
            audit.record(session, built.clock, actor=operator.login,
                         action=f"consent.{form.action.data}", target=f"resident:{code}",
                         municipality_code=operator.municipality_code,
                         details={"identity_document": (form.identity_document.data or "")[:40],
                                  "purpose": "latest_basic_four"})
        flash("同意を登録しました。" if form.action.data == "give" else "同意を撤回しました。",
              "info")
    else:
        flash("すでにその状態です。変更はありません。", "info")
    return redirect(url_for("counter.resident", code=code))
