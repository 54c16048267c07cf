"""The logged-in resident's pages: their certificates, who received their identity info
(提供状況の開示) and their consent to the latest-basic-four service."""

from __future__ import annotations

from dataclasses import dataclass

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import AnyOf, DataRequired

from jukibridge import provision
from jukibridge.errors import NotFound
from revocation import consents
from revocation.consents import Channel, ConsentState
from revocation.errors import InvalidRequest
from web.app import services
from web.blueprints.portal import blueprint
from web.blueprints.portal.resident import certificates, find, name_from_certificates
from web.blueprints.portal.session import current_resident, resident_required
from web.certificate_check import jst

ITEM_LABELS = {
    "resident_code": "住民票コード",
    "individual_number": "個人番号",
    "name": "氏名",
    "former_surname": "旧氏",
    "alias": "通称",
    "birth_date": "生年月日",
    "sex": "性別",
    "address": "住所",
    "municipality_code": "市区町村コード",
    "removed": "住民票の消除の有無",
    "change_reason": "異動事由",
    "changed_on": "異動日",
}
OUTCOME_LABELS = {
    provision.Outcome.PROVIDED: "提供しました",
    provision.Outcome.REFUSED: "提供しませんでした（法令で認められた利用目的ではないため）",
    provision.Outcome.NOT_FOUND: "提供しませんでした（該当者なし）",
    provision.Outcome.AMBIGUOUS: "提供しませんでした（複数の方が該当したため）",
}
# A registered signature verifier's request for the latest basic four (with the holder's consent).
LATEST_TASK = "署名検証者への最新の基本4情報の提供"
LATEST_LOOKUP = "失効した署名用電子証明書による照会"
LATEST_REFUSED = "提供しませんでした（ご本人の同意がない、または提供の条件を満たさないため）"
LOOKUP_LABELS = {
    provision.Lookup.RESIDENT_CODE: "住民票コードによる照会",
    provision.Lookup.BASIC_FOUR: "基本4情報（氏名・生年月日・性別・住所）による照会",
}
CONSENT_LABELS = {
    ConsentState.GIVEN: "同意しています",
    ConsentState.WITHDRAWN: "同意を撤回しています",
    ConsentState.NONE: "同意していません",
}
CHANNEL_LABELS = {Channel.PORTAL: "利用者ポータル", Channel.COUNTER: "窓口"}


@dataclass(frozen=True)
class ProvisionRow:
    """One line of the disclosure, as shown."""

    at: str
    agency: str
    task: str
    legal_basis: str
    lookup: str
    given: str  # the items given, in Japanese
    outcome: str
    outcome_value: str


class ConsentForm(FlaskForm):
    action = HiddenField(validators=[DataRequired(), AnyOf(["give", "withdraw"])])


@blueprint.get("/me")
@resident_required
def me() -> ResponseReturnValue:
    """マイページ: name, certificates, consent."""
    built = services()
    resident = find(built, current_resident().resident_code)
    checks = certificates(built, resident)
    name = resident.name or name_from_certificates(checks)
    state = consents.current(built.sessions, resident.resident_code)
    history = consents.history(built.sessions, resident.resident_code)
    form = ConsentForm(action="withdraw" if state is ConsentState.GIVEN else "give")
    return render_template("portal/me.html", name=name, checks=checks, jst=jst, form=form,
                           state=state, consent_label=CONSENT_LABELS[state],
                           history=list(reversed(history)), consent_labels=CONSENT_LABELS,
                           channel_labels=CHANNEL_LABELS)


@blueprint.post("/me/consent")
@resident_required
def consent() -> ResponseReturnValue:
    """最新の基本4情報の提供への同意・撤回."""
    form = ConsentForm()
    if not form.validate_on_submit():
        flash("操作を受け付けられませんでした。画面を開き直して、もう一度お試しください。", "error")
        return redirect(url_for("portal.me"))
    built = services()
    resident = find(built, current_resident().resident_code)
    try:
        if form.action.data == "give":
            recorded = consents.give(built.sessions, built.clock, resident.resident_code,
                                     channel=Channel.PORTAL)
            message = "同意を登録しました。"
        else:
            recorded = consents.withdraw(built.sessions, built.clock, resident.resident_code,
                                         channel=Channel.PORTAL)
            message = "同意を撤回しました。"
    except InvalidRequest:
        flash("同意していないため、撤回できません。", "error")
        return redirect(url_for("portal.me"))
    if not recorded.changed:
        message = "すでにその状態です。変更はありません。"
    flash(message, "info")
    return redirect(url_for("portal.me"))


@blueprint.get("/me/provisions")
@resident_required
def provisions() -> ResponseReturnValue:
    """本人確認情報の提供状況の開示."""
    built = services()
    resident = find(built, current_resident().resident_code)
    try:
        records = provision.history(built.sessions, resident.resident_code)
    except NotFound:
        records = []
    purposes = provision.purposes(built.sessions)
    agencies = {p.agency: p.agency_name for p in purposes}
    by_id = {(p.agency, p.purpose_id): p for p in purposes}
    rows: list[ProvisionRow] = []
    for r in reversed(records):
        purpose = by_id.get((r.agency, r.purpose_id))
        latest = r.purpose_id == provision.LATEST_BASIC_FOUR
        rows.append(ProvisionRow(
            at=jst(r.at), agency=agencies.get(r.agency, r.agency),
            task=(LATEST_TASK if latest else
                  purpose.task if purpose is not None else r.purpose_id),
            legal_basis=r.legal_basis or "",
            lookup=LATEST_LOOKUP if latest else LOOKUP_LABELS[r.lookup],
            given="、".join(ITEM_LABELS.get(item, item) for item in r.fields),
            outcome=(LATEST_REFUSED if latest and r.outcome is provision.Outcome.REFUSED
                     else OUTCOME_LABELS[r.outcome]),
            outcome_value=r.outcome.value))
    return render_template("portal/provisions.html", rows=rows)
