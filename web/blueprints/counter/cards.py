"""Counter screens for cards: enrolment step by step, card loss, PIN reset, renewal and re-issue
of certificates onto the card, and revocation on the holder's request.

Enrolment: (1) the operator confirms the resident and the identity document checked; (2) the
resident sets the auth PIN and the signing password on a page meant for the resident; (3) the
card is issued by ``web.enrolment.enrol`` (what ``jpki card enrol`` runs); (4) the result. Between
steps the server session keeps only non-secret data (resident code, identity document, operator)
under a random enrolment token; the PINs exist only in the POST of step 2 and go straight into
``enrol``. A marker file per token (``<home>/cards/.enrolments/<token>``, locked while issuing)
records the card id, so a double submission issues one card. Cards are written to
``<home>/cards/<card_id>.jcard``.

Every action is audited by the domain functions called: ``card.enrol`` (and ``record.view``),
``card.lost`` with both certificates on ``certificateHold`` (the revocation entries name the
operator), ``card.pin_reset.<kind>``, ``card.renew`` and ``card.reissue`` (``web.enrolment``:
what ``jpki card renew|reissue`` run; the forms are shown only for what the certificates' state
allows now, and the domain checks again); a revocation on request is recorded by the revocation
service with the operator, and entered in the register's audit log here as
``card.revoke_request`` (the revocation service has no audit log of its own).
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

from cryptography.x509 import ReasonFlags
from flask import (
    flash,
    make_response,
    redirect,
    render_template,
    send_file,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import BooleanField, Field, PasswordField, SelectField, StringField
from wtforms.validators import AnyOf, DataRequired, EqualTo, Length, ValidationError

from ca.errors import IssuanceRefused, NotEligible
from jukibridge import audit, cards
from jukibridge.cards import CardRecord
from jukibridge.errors import Conflict, InvalidInput, NotFound
from jukibridge.records import RecordState, ResidentRecord, Role
from pki.card import (
    Card,
    CardError,
    ImageError,
    Kind,
    PinFormatError,
    VirtualCard,
    check_pin_format,
)
from pki.eras import PartialDate
from pki.validity import jst_day, may_hold_signing_certificate
from revocation.errors import UnknownCertificate
from revocation.ports import CertificateRecord
from revocation.service import CertRef, CertStatus
from web.app import services
from web.blueprints.counter import blueprint
from web.blueprints.counter.session import current_operator, operator_required
from web.enrolment import (
    MaintenanceRefused,
    Replacement,
    certificate_states,
    enrol,
    reissue,
    renew,
    reset_pin,
)
from web.secrets import card_seal_key

ACTORS = (Role.CLERK, Role.SUPERVISOR)  # the auditor only reads
PENDING_KEY = "counter_enrolments"
MAX_PENDING = 5  # enrolments kept in one operator's session
TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")
CARD_ID = re.compile(r"[0-9a-f]{32}")
JST = timezone(timedelta(hours=9))

OTHER = "その他"
IDENTITY_DOCUMENTS = ("運転免許証", "旅券", "在留カード", "個人番号カード", OTHER)
KIND_LABELS = {"sign": "署名用電子証明書", "auth": "利用者証明用電子証明書"}
AUTH_RULE = "暗証番号は半角数字4桁で入力してください。"
SIGN_RULE = ("署名用パスワードは、半角の英大文字（A～Z）と数字（0～9）をそれぞれ1文字以上含む"
             "6～16文字で入力してください。")
REASONS = {  # RFC 5280 §5.3.1 reason codes as the counter names them
    ReasonFlags.unspecified: "本人の申請",
    ReasonFlags.key_compromise: "鍵の漏えい",
    ReasonFlags.affiliation_changed: "基本4情報の変更",
    ReasonFlags.superseded: "更新",
    ReasonFlags.cessation_of_operation: "住民票の消除",
    ReasonFlags.certificate_hold: "カードの紛失（一時保留）",
    ReasonFlags.ca_compromise: "認証局の鍵の危殆化",
}
STATES = {"active": "有効", "lost": "紛失届済み", "returned": "返納済み"}
NO_ENROLMENT = ("この受付は見つからないか、有効期限が切れています。"
                "本人確認の画面からやり直してください。")
NO_CARD = "指定されたカードは、この市区町村で交付されたものではないか、存在しません。"
CHECK_INPUT = "入力内容に誤りがあります。各項目の説明を確認して、もう一度入力してください。"


# -- forms ---------------------------------------------------------------------------------------


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


class DocumentForm(FlaskForm):
    """The identity document the operator checked (本人確認書類)."""

    identity_document = SelectField(
        "本人確認書類", choices=[("", "選択してください"), *((d, d) for d in IDENTITY_DOCUMENTS)],
        validate_choice=False,
        validators=[DataRequired("本人確認書類を選択してください。"),
                    AnyOf(IDENTITY_DOCUMENTS, "本人確認書類を一覧から選択してください。")])
    identity_document_other = StringField(
        "書類の名称（「その他」の場合）", filters=[_strip],
        validators=[Length(max=40, message="書類の名称は40文字以内で入力してください。")])

    def validate_identity_document_other(self, field: Field) -> None:
        if self.identity_document.data == OTHER and not field.data:
            raise ValidationError("「その他」の場合は、書類の名称を入力してください。")

    def document(self) -> str:
        """The document as recorded with the card and in the audit log."""
        chosen = str(self.identity_document.data)
        return f"{OTHER}（{self.identity_document_other.data}）" if chosen == OTHER else chosen


class EnrolForm(DocumentForm):
    identity_checked = BooleanField(
        "本人確認書類により、ご本人であることを確認しました",
        validators=[DataRequired("本人確認を行ったうえで、チェックを入れてください。")])


def _rule(kind: Kind) -> Callable[[FlaskForm, Field], None]:
    """The card's own PIN rule (``pki.card.check_pin_format``), with a Japanese message."""

    def check(form: FlaskForm, field: Field) -> None:
        try:
            check_pin_format(kind, str(field.data or ""))
        except PinFormatError:
            raise ValidationError(AUTH_RULE if kind == "auth" else SIGN_RULE) from None

    return check


class PinsForm(FlaskForm):
    """Step 2, filled in by the resident."""

    auth_pin = PasswordField("利用者証明用電子証明書の暗証番号（数字4桁）", validators=[
        DataRequired("暗証番号を入力してください。"), _rule("auth")])
    auth_pin_confirm = PasswordField("暗証番号（確認のため、もう一度）", validators=[
        DataRequired("確認のため、暗証番号をもう一度入力してください。"),
        EqualTo("auth_pin", "暗証番号が一致しません。もう一度入力してください。")])
    signing_password = PasswordField("署名用電子証明書のパスワード（英大文字と数字で6～16文字）",
                                     validators=[DataRequired("パスワードを入力してください。"),
                                                 _rule("sign")])
    signing_password_confirm = PasswordField("パスワード（確認のため、もう一度）", validators=[
        DataRequired("確認のため、パスワードをもう一度入力してください。"),
        EqualTo("signing_password", "パスワードが一致しません。もう一度入力してください。")])


class PinResetForm(DocumentForm):
    kind = SelectField("再設定するもの", validate_choice=False, choices=[
        ("auth", "利用者証明用電子証明書の暗証番号（数字4桁）"),
        ("sign", "署名用電子証明書のパスワード（英大文字と数字で6～16文字）")],
        validators=[AnyOf(("auth", "sign"), "再設定するものを選択してください。")])
    new_pin = PasswordField("新しい暗証番号・パスワード", validators=[
        DataRequired("新しい暗証番号・パスワードを入力してください。")])
    new_pin_confirm = PasswordField(
        "新しい暗証番号・パスワード（確認のため、もう一度）", validators=[
            DataRequired("確認のため、もう一度入力してください。"),
            EqualTo("new_pin", "入力された暗証番号・パスワードが一致しません。")])

    def validate_new_pin(self, field: Field) -> None:
        _rule("sign" if self.kind.data == "sign" else "auth")(self, field)


class RevokeForm(FlaskForm):
    serial = SelectField("失効させる電子証明書", validate_choice=False,
                         validators=[DataRequired("失効させる電子証明書を選択してください。")])
    key_compromise = BooleanField("鍵の漏えい（カードや暗証番号を他人に使われたおそれがある）")

    serials: frozenset[str] = frozenset()  # the card's certificates, set by the view

    def validate_serial(self, field: Field) -> None:
        if field.data not in self.serials:
            raise ValidationError("このカードの電子証明書を選択してください。")


class LostForm(FlaskForm):
    """The card-loss report: nothing to enter but the CSRF token."""


class RenewForm(DocumentForm):
    """更新: the certificates near their expiry get new keys and new certificates."""

    kind = SelectField("更新する電子証明書", validate_choice=False, validators=[
        AnyOf(("both", "sign", "auth"), "更新する電子証明書を選択してください。")])


class ReissueForm(DocumentForm):
    """再発行: a revoked, expired (or missing) certificate gets a new key and certificate."""

    kind = SelectField("再発行する電子証明書", validate_choice=False, validators=[
        AnyOf(("sign", "auth"), "再発行する電子証明書を選択してください。")])


# -- enrolment -----------------------------------------------------------------------------------


@blueprint.route("/residents/<code>/enrol", methods=["GET", "POST"])
@operator_required(*ACTORS)
def enrol_identity(code: str) -> ResponseReturnValue:
    """カード交付 (1): the resident and the identity document checked."""
    operator = current_operator()
    record = _resident(code)
    if record.state is not RecordState.ACTIVE:
        raise Conflict("この方の住民票は消除されている（除票）ため、カードを交付できません。")
    form = EnrolForm()
    if form.validate_on_submit():
        token = secrets.token_urlsafe(16)
        pending = [item for item in session.get(PENDING_KEY) or [] if isinstance(item, dict)]
        pending.append({"token": token, "resident_code": record.resident_code,
                        "identity_document": form.document(), "operator": operator.login})
        session[PENDING_KEY] = pending[-MAX_PENDING:]
        return redirect(url_for("counter.enrol_pins", token=token))
    if form.is_submitted():
        flash(CHECK_INPUT, "error")
    with services().sessions() as db:
        held = [c for c in cards.cards_of(db, record.resident_code) if c.state == "active"]
    signing = may_hold_signing_certificate(record.birth_date, jst_day(services().clock.now()))
    return render_template("counter/cards/enrol.html", form=form, record=record, held=held,
                           signing=signing, resident_url=_resident_url(record.resident_code)
                           ), 400 if form.is_submitted() else 200


@blueprint.route("/enrolments/<token>/pins", methods=["GET", "POST"])
@operator_required(*ACTORS)
def enrol_pins(token: str) -> ResponseReturnValue:
    """カード交付 (2): the resident sets the PINs; (3) the card is issued."""
    pending = _pending(token)
    if _issued(token) is not None:
        return redirect(url_for("counter.enrol_done", token=token))
    form = PinsForm()
    if form.validate_on_submit():
        try:
            _issue(token, pending, str(form.auth_pin.data), str(form.signing_password.data))
        except (NotEligible, IssuanceRefused, NotFound, InvalidInput, Conflict) as exc:
            if isinstance(exc, Conflict) and exc.fields.get("busy"):
                raise
            _forget(token)
            flash(_refusal(exc), "error")
            return redirect(url_for("counter.enrol_identity", code=pending["resident_code"]))
        return redirect(url_for("counter.enrol_done", token=token))
    if form.is_submitted():
        flash(CHECK_INPUT, "error")
    response = make_response(render_template("counter/cards/pins.html", form=form),
                             400 if form.is_submitted() else 200)
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/enrolments/<token>/done")
@operator_required(*ACTORS)
def enrol_done(token: str) -> ResponseReturnValue:
    """カード交付 (4): the card id and both certificates' serials."""
    pending = _pending(token)
    card_id = _issued(token)
    if card_id is None:
        return redirect(url_for("counter.enrol_pins", token=token))
    card, _ = _card(card_id)
    return render_template("counter/cards/done.html", card=card, token=token,
                           signing_serial=_hex(card.signing_serial),
                           auth_serial=_hex(card.auth_serial),
                           resident_url=_resident_url(pending["resident_code"]))


@blueprint.get("/enrolments/<token>/card")
@operator_required(*ACTORS)
def enrol_download(token: str) -> ResponseReturnValue:
    """The new card's file, handed over at enrolment only."""
    _pending(token)
    card_id = _issued(token)
    if card_id is None:
        raise NotFound(NO_ENROLMENT)
    card, _ = _card(card_id)
    path = _card_file(card)
    if path is None:
        raise NotFound("カードのファイルが見つかりません。")
    response = send_file(path, mimetype="application/octet-stream", as_attachment=True,
                         download_name=f"{card_id}.jcard", max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response


def _issue(token: str, pending: dict[str, str], auth_pin: str, signing_password: str) -> str:
    """Step 3, once per token: ``enrol`` writes the card, then it takes its card id as name."""
    folder = services().settings.home / "cards"
    with _marker(token) as marker:
        done = marker.read().strip()
        if done:
            return done
        result = enrol(services(), operator=pending["operator"],
                       resident_code=pending["resident_code"],
                       identity_document=pending["identity_document"], auth_pin=auth_pin,
                       signing_password=signing_password, out=folder / f"enrolment-{token}.jcard",
                       municipality_code=current_operator().municipality_code)
        os.replace(result.path, folder / f"{result.card_id}.jcard")
        marker.write(result.card_id)
        marker.flush()
        os.fsync(marker.fileno())
        return result.card_id


@contextmanager
def _marker(token: str) -> Iterator[IO[str]]:
    path = _marker_path(token)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+", encoding="ascii") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise Conflict("この受付は処理中です。しばらくお待ちください。", busy=True) from None
        handle.seek(0)
        yield handle


def _marker_path(token: str) -> Path:
    return services().settings.home / "cards" / ".enrolments" / token


def _issued(token: str) -> str | None:
    """The card id issued under ``token``, if any."""
    try:
        found = _marker_path(token).read_text("ascii").strip()
    except FileNotFoundError:
        return None
    return found if CARD_ID.fullmatch(found) else None


def _pending(token: str) -> dict[str, str]:
    """The enrolment ``token`` of this session and operator."""
    if TOKEN.fullmatch(token):
        for item in session.get(PENDING_KEY) or []:
            if (isinstance(item, dict) and item.get("token") == token
                    and item.get("operator") == current_operator().login):
                return {str(k): str(v) for k, v in item.items()}
    raise NotFound(NO_ENROLMENT)


def _forget(token: str) -> None:
    session[PENDING_KEY] = [item for item in session.get(PENDING_KEY) or []
                            if isinstance(item, dict) and item.get("token") != token]


def _refusal(exc: Exception) -> str:
    if isinstance(exc, NotEligible):
        return ("この方には電子証明書を発行できません（住民票が消除されているなど）。"
                "カードは作成されていません。")
    if isinstance(exc, IssuanceRefused):
        return ("電子証明書の内容が発行の基準を満たさないため、発行できませんでした。"
                "カードは作成されていません。")
    return "住民票の内容を確認できなかったため、カードを交付できませんでした。"


def _resident(code: str) -> ResidentRecord:
    """The resident's record as the register says now (an audited read)."""
    operator = current_operator()
    try:
        return services().register(operator.municipality_code).record(
            code, operator=operator.login)
    except (NotFound, InvalidInput):
        raise NotFound("指定された住民票コードの住民は見つかりません。") from None


# -- the card page and its actions ---------------------------------------------------------------


@dataclass(frozen=True)
class CertificateLine:
    """One certificate on the card page."""

    kind: str
    serial: str  # hex
    not_before: str
    not_after: str
    status: str  # css suffix: valid, revoked, expired, unknown
    status_text: str


@blueprint.get("/cards/<card_id>")
@operator_required()
def card_page(card_id: str) -> ResponseReturnValue:
    """カード情報: state, certificates and (for clerks and supervisors) the actions."""
    return _render_card(card_id)


@blueprint.post("/cards/<card_id>/lost")
@operator_required(*ACTORS)
def card_lost(card_id: str) -> ResponseReturnValue:
    """紛失届: both certificates on hold, then the card is marked lost (as ``jpki card
    report-lost``: hold first, so a failure after it leaves the safe side)."""
    form = LostForm()
    card, _ = _card(card_id)
    if not form.validate_on_submit():
        return _render_card(card_id, lost_form=form, status=400)
    if card.state != "active":
        flash(f"このカードはすでに{STATES.get(card.state, card.state)}です。", "error")
        return _render_card(card_id, status=409)
    operator = current_operator()
    built = services()
    register = built.register(operator.municipality_code)
    register.check_operator(operator.login, *ACTORS)
    try:
        outcomes = built.revocation.service.card_lost(card_id, operator=operator.login)
    except UnknownCertificate:
        flash("このカードには有効期間内の電子証明書がないため、一時保留にできませんでした。",
              "error")
        return _render_card(card_id, status=409)
    with built.sessions() as db, db.begin():
        cards.change_state(db, built.clock, card_id, "lost", operator=operator.login,
                           municipality_code=register.municipality_code)
    flash(f"紛失届を受け付けました。このカードの電子証明書{len(outcomes)}件を一時保留にしました。",
          "success")
    return redirect(url_for("counter.card_page", card_id=card_id))


@blueprint.post("/cards/<card_id>/pin-reset")
@operator_required(*ACTORS)
def card_pin_reset(card_id: str) -> ResponseReturnValue:
    """暗証番号の再設定 at the counter after the identity check (``web.enrolment.reset_pin``)."""
    form = PinResetForm()
    card, _ = _card(card_id)
    if not form.validate_on_submit():
        return _render_card(card_id, reset_form=form, status=400)
    if card.state != "active":
        flash(f"このカードは{STATES.get(card.state, card.state)}のため、"
              "暗証番号を再設定できません。", "error")
        return _render_card(card_id, status=409)
    path = _card_file(card)
    if path is None:
        raise NotFound("カードのファイルが見つかりません。")
    operator = current_operator()
    kind = "sign" if form.kind.data == "sign" else "auth"
    try:
        reset_pin(services(), operator=operator.login, card_path=path, kind=kind,
                  new_pin=str(form.new_pin.data), identity_document=form.document(),
                  municipality_code=operator.municipality_code)
    except ImageError:
        raise Conflict("カードが他の装置で使用中です。しばらくしてから再度お試しください。"
                       ) from None
    label = "署名用電子証明書のパスワード" if kind == "sign" else "利用者証明用電子証明書の暗証番号"
    flash(f"{label}を再設定しました。", "success")
    return redirect(url_for("counter.card_page", card_id=card_id))


@blueprint.post("/cards/<card_id>/revoke")
@operator_required(*ACTORS)
def card_revoke(card_id: str) -> ResponseReturnValue:
    """失効申請: the holder asks to revoke one certificate (``jpki revoke``)."""
    card, certificates = _card(card_id)
    form = _for_card(RevokeForm(), certificates)
    if not form.validate_on_submit():
        return _render_card(card_id, revoke_form=form, status=400)
    chosen = next(c for c in certificates if f"{c.serial:x}" == form.serial.data)
    operator = current_operator()
    built = services()
    (outcome,) = built.revocation.service.request(
        [CertRef(chosen.issuer_key_id, chosen.serial)],
        key_compromise=bool(form.key_compromise.data), operator=operator.login)
    with built.sessions() as db, db.begin():
        audit.record(db, built.clock, actor=operator.login, action="card.revoke_request",
                     target=f"card:{card.card_id}", municipality_code=card.municipality_code,
                     details={"kind": chosen.kind, "serial": f"{chosen.serial:x}",
                              "reason": outcome.revocation.reason.value,
                              "changed": outcome.changed})
    label = KIND_LABELS.get(chosen.kind, chosen.kind)
    if outcome.changed:
        flash(f"{label}（シリアル番号 {chosen.serial:x}）を失効させました"
              f"（理由: {REASONS.get(outcome.revocation.reason, '失効')}）。", "success")
    else:
        flash(f"{label}（シリアル番号 {chosen.serial:x}）はすでに失効しています。"
              "変更はありません。", "info")
    return redirect(url_for("counter.card_page", card_id=card_id))


@blueprint.post("/cards/<card_id>/renew")
@operator_required(*ACTORS)
def card_renew(card_id: str) -> ResponseReturnValue:
    """更新: new keys and certificates from three months before the expiry
    (``web.enrolment.renew``)."""
    return _replace(card_id, RenewForm(), "renew_form")


@blueprint.post("/cards/<card_id>/reissue")
@operator_required(*ACTORS)
def card_reissue(card_id: str) -> ResponseReturnValue:
    """再発行: a new key and certificate after a revocation or the expiry
    (``web.enrolment.reissue``)."""
    return _replace(card_id, ReissueForm(), "reissue_form")


def _replace(card_id: str, form: RenewForm | ReissueForm, name: str) -> ResponseReturnValue:
    card, _ = _card(card_id)
    if not form.validate_on_submit():
        return _render_card(card_id, status=400, **{name: form})
    word = "更新" if isinstance(form, RenewForm) else "再発行"
    if card.state != "active":
        flash(f"このカードは{STATES.get(card.state, card.state)}のため、{word}できません。",
              "error")
        return _render_card(card_id, status=409)
    path = _card_file(card)
    if path is None:
        raise NotFound("カードのファイルが見つかりません。")
    operator = current_operator()
    action = renew if isinstance(form, RenewForm) else reissue
    try:
        done = action(services(), operator=operator.login, card_path=path,
                      kind=str(form.kind.data), identity_document=form.document(),
                      municipality_code=operator.municipality_code)
    except (MaintenanceRefused, NotEligible, IssuanceRefused) as exc:
        flash(_replacement_refusal(exc, word), "error")
        return _render_card(card_id, status=409 if isinstance(exc, MaintenanceRefused) else 422)
    except ImageError:
        raise Conflict("カードが他の装置で使用中です。しばらくしてから再度お試しください。"
                       ) from None
    flash(_replaced(done, word), "success")
    return redirect(url_for("counter.card_page", card_id=card_id))


def _replaced(done: Replacement, word: str) -> str:
    issued = "、".join(f"{KIND_LABELS[kind]}（シリアル番号 {new.serial:x}）"
                      for kind, new in done.issued.items())
    text = f"{issued}を{word}しました。暗証番号・パスワードは変わりません。"
    if done.superseded:
        text += f"以前の電子証明書{len(done.superseded)}件は失効（理由: 更新）しました。"
    return text


def _replacement_refusal(exc: Exception, word: str) -> str:
    """The counter's wording of a refused renewal or re-issue (nothing was changed)."""
    unchanged = "カードと電子証明書は変更されていません。"
    if isinstance(exc, NotEligible):
        return ("この方には電子証明書を発行できません（署名用電子証明書は15歳未満の方には発行"
                f"できません。住民票が消除されている場合も発行できません）。{unchanged}")
    if isinstance(exc, IssuanceRefused):
        return f"電子証明書の内容が発行の基準を満たさないため、{word}できませんでした。{unchanged}"
    fields = getattr(exc, "fields", {})
    label = KIND_LABELS.get(str(fields.get("kind")), "電子証明書")
    reason = fields.get("reason")
    if reason == "too_early" and isinstance(fields.get("opens_at"), datetime):
        return (f"{label}の更新は、有効期限の3か月前（{_day(fields['opens_at'])}）から"
                "受け付けます。")
    if reason in ("revoked", "expired"):
        state = "失効している" if reason == "revoked" else "有効期限が切れている"
        return f"{label}は{state}ため更新できません。再発行の手続きを行ってください。"
    if reason == "no_certificate":
        return f"このカードには{label}がないため、更新できません。"
    if reason == "still_good":
        return (f"{label}は有効なため、再発行できません。有効期限が近い場合は更新の手続きを"
                "行ってください。")
    return f"{word}できませんでした。{unchanged}"


@dataclass(frozen=True)
class Replaceable:
    """What the card page offers: the renewal and re-issue choices allowed now, and when
    renewal opens for certificates not yet near their expiry."""

    renew: list[tuple[str, str]]
    reissue: list[tuple[str, str]]
    renewal_opens: list[str]


def _replaceable(card: CardRecord) -> Replaceable:
    now = services().clock.now()
    states = certificate_states(services(), card)
    with services().sessions() as db:  # no signing certificate under 15, none when removed
        eligible = cards.eligible_kinds(db, card.card_id, jst_day(now))
    kinds = [state for state in states.values() if state.kind in eligible]
    renewable = [s.kind for s in kinds if s.renewal_refusal(now) is None]
    renew_choices: list[tuple[str, str]] = [(k, KIND_LABELS[k]) for k in renewable]
    if len(renewable) == 2:
        renew_choices.insert(0, ("both", "両方（署名用・利用者証明用）"))
    reissue_choices: list[tuple[str, str]] = [(s.kind, KIND_LABELS[s.kind]) for s in kinds
                                              if s.reissue_refusal() is None]
    opens = [f"{KIND_LABELS[k]}: {_day(state.renewal_opens)}から"
             for k, state in states.items()
             if state.status == "good" and state.renewal_opens is not None
             and now < state.renewal_opens]
    return Replaceable(renew=renew_choices, reissue=reissue_choices, renewal_opens=opens)


def _day(instant: datetime) -> str:
    return PartialDate.of(instant.astimezone(JST).date()).japanese()


def _render_card(card_id: str, *, status: int = 200, **forms: Any) -> ResponseReturnValue:
    card, certificates = _card(card_id)
    if status == 400:
        flash(CHECK_INPUT, "error")
    revoke_form = forms.get("revoke_form") or _for_card(RevokeForm(formdata=None), certificates)
    now = services().clock.now()
    lines = [_line(c, now) for c in certificates if c.kind in KIND_LABELS]
    may_act = current_operator().role in ACTORS
    replaceable = _replaceable(card) if may_act and card.state == "active" else None
    renew_form = forms.get("renew_form") or RenewForm(formdata=None)
    reissue_form = forms.get("reissue_form") or ReissueForm(formdata=None)
    if replaceable is not None:
        renew_form.kind.choices = replaceable.renew
        reissue_form.kind.choices = replaceable.reissue
    return render_template(
        "counter/cards/card.html", card=card, lines=lines, kinds=KIND_LABELS,
        state=STATES.get(card.state, card.state), may_act=may_act,
        tries=_tries(card) if card.state == "active" else None,
        issued_at=_jst(card.issued_at), resident_url=_resident_url(card.resident_code),
        lost_form=forms.get("lost_form") or LostForm(formdata=None),
        reset_form=forms.get("reset_form") or PinResetForm(formdata=None),
        revoke_form=revoke_form, replaceable=replaceable, renew_form=renew_form,
        reissue_form=reissue_form), status


def _card(card_id: str) -> tuple[CardRecord, list[CertificateRecord]]:
    """The card (issued by the operator's municipality) and the certificates issued for it."""
    if not CARD_ID.fullmatch(card_id):
        raise NotFound(NO_CARD)
    built = services()
    certificates = built.revocation.directory.by_card(card_id)
    codes = sorted({c.resident_code for c in certificates if c.resident_code})
    municipality = current_operator().municipality_code
    with built.sessions() as db:
        for code in codes:
            for card in cards.cards_of(db, code):
                if card.card_id == card_id and card.municipality_code == municipality:
                    return card, certificates
    raise NotFound(NO_CARD)


def _card_file(card: CardRecord) -> Path | None:
    """``<home>/cards/<card_id>.jcard``, else ``<resident_code>.jcard`` (as the demo names
    cards) when it holds this card."""
    folder = services().settings.home / "cards"
    path = folder / f"{card.card_id}.jcard"
    if path.is_file():
        return path
    path = folder / f"{card.resident_code}.jcard"
    if path.is_file():
        try:
            with VirtualCard.open(path, card_seal_key(services().settings)) as virtual:
                if virtual.card_id == card.card_id:
                    return path
        except CardError:
            return None
    return None


def _tries(card: CardRecord) -> dict[str, int] | None:
    """PIN tries left on the card file (an empty VERIFY spends none), if it can be read."""
    path = _card_file(card)
    if path is None:
        return None
    try:
        with Card.open(path, card_seal_key(services().settings)) as held:
            return {kind: held.tries_left(kind) for kind in ("auth", "sign")}
    except CardError:
        return None


def _line(record: CertificateRecord, now: datetime) -> CertificateLine:
    result = services().revocation.service.status(record.issuer_key_id, record.serial)
    if result.state is CertStatus.REVOKED and result.revocation is not None:
        r = result.revocation
        hold = r.reason is ReasonFlags.certificate_hold
        reason = REASONS.get(r.reason, r.reason.value)
        word = "一時保留" if hold else "失効"
        status, text = "revoked", f"{word}（{reason}、{_jst(r.revoked_at)}）"
    elif result.state is CertStatus.GOOD:
        expired = record.not_after <= now
        status, text = ("expired", "有効期限切れ") if expired else ("valid", "有効")
    else:
        status, text = "unknown", "不明"
    return CertificateLine(kind=record.kind, serial=f"{record.serial:x}",
                           not_before=_jst(record.not_before), not_after=_jst(record.not_after),
                           status=status, status_text=text)


def _for_card(form: RevokeForm, certificates: list[CertificateRecord]) -> RevokeForm:
    """The revocation form offering the card's certificates (by hex serial)."""
    choices = [(f"{c.serial:x}", f"{KIND_LABELS[c.kind]}（{c.serial:x}）")
               for c in certificates if c.kind in KIND_LABELS]
    form.serial.choices = choices
    form.serials = frozenset(value for value, _ in choices)
    return form


def _hex(serial: str | None) -> str | None:
    return None if serial is None else f"{int(serial):x}"


def _jst(instant: datetime) -> str:
    local = instant.astimezone(JST)
    return f"{PartialDate.of(local.date()).japanese()} {local:%H:%M}"


def _resident_url(code: str) -> str:
    return f"{url_for('counter.home')}residents/{code}"

