"""Counter screens: finding a resident; the record with its household, history and certificates.

Every read of the register goes through ``Register`` (each one audited there). The certificates
come from the CA's issued store, through the revocation side's directory, with their status from
the revocation service; a resident-code change re-links them, so the former codes the
revocation service knows are included. After a committed change the revocation arrives within a
second (tier and revocation workers): the page then re-reads its certificate table for a few
seconds from ``/counter/residents/<code>/certificates``.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.x509 import ReasonFlags
from flask import flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField

from ca.errors import CaError
from jukibridge.codes import is_valid_resident_code, mask_individual_number
from jukibridge.errors import InvalidInput, NotFound, RegisterError
from jukibridge.records import ChangeKind, RecordState, ResidentRecord, Role
from jukibridge.register import Register
from pki.eras import DateError, PartialDate
from revocation.errors import RevocationError
from revocation.rules import Cause
from revocation.service import CertStatus, Revocation, all_codes, former_codes
from web.app import services
from web.blueprints.counter import blueprint
from web.blueprints.counter.display import (
    era_date,
    explain,
    japanese,
    jst_datetime,
    slug,
    yes_no,
)
from web.blueprints.counter.session import current_operator, operator_required
from web.config import ConfigError

log = logging.getLogger(__name__)

ACTORS = (Role.CLERK, Role.SUPERVISOR)  # auditors read, never act
SEARCH_LIMIT = 50
WATCH_KEY = "counter_watch_certificates"  # resident code whose certificates the page re-reads
WATCH_AFTER_CHANGE = timedelta(seconds=30)  # a change this recent: the page re-reads too
KIND_LABELS = {"sign": "署名用電子証明書", "auth": "利用者証明用電子証明書"}
CAUSE_LABELS = {
    Cause.BASIC_FOUR_CHANGED: "基本4情報の変更",
    Cause.RECORD_REMOVED: "住民票の消除",
    Cause.RESIDENT_CODE_CHANGED: "住民票コードの変更",
    Cause.HOLDER_REQUEST: "本人の申請",
    Cause.KEY_COMPROMISE: "秘密鍵の漏えい",
    Cause.CARD_LOST: "カードの紛失",
    Cause.RENEWAL: "証明書の更新",
    Cause.CA_COMPROMISE: "認証局の鍵の危殆化",
}
# Kinds entered from a resident's page, and the kinds entered from the search screen.
RESIDENT_KINDS = (
    ChangeKind.RELOCATION, ChangeKind.MOVE_OUT, ChangeKind.EMIGRATION, ChangeKind.NAME_CHANGE,
    ChangeKind.DEATH, ChangeKind.HOUSEHOLD_CHANGE, ChangeKind.BIRTH, ChangeKind.MINOR_CORRECTION,
    ChangeKind.CORRECTION, ChangeKind.CLERICAL_FIX, ChangeKind.RESIDENT_CODE_CHANGE,
)
NEW_KINDS = tuple(ChangeKind)
CODE_RULE = "住民票コードは11桁の数字で入力してください（検査数字も確認してください）。"


class SearchForm(FlaskForm):
    """住民検索 (GET: no CSRF token; it changes nothing)."""

    class Meta:
        csrf = False

    resident_code = StringField("住民票コード", render_kw={
        "inputmode": "numeric", "maxlength": 20, "autocomplete": "off"})
    name_kana = StringField("フリガナ（先頭から）", render_kw={"maxlength": 60})
    birth_date = StringField("生年月日", description="例: 昭和25年3月15日、1950-03-15",
                             render_kw={"maxlength": 30})
    include_removed = BooleanField("除票も含める")


@dataclass(frozen=True)
class CertificateLine:
    """One certificate of the holder, as the certificates table shows it."""

    kind: str  # sign | auth
    kind_label: str
    serial: str  # hex
    card_id: str | None
    not_before: str
    not_after: str
    status: str  # valid | revoked | hold | expired | unknown
    status_label: str
    detail: str


def register_of_operator() -> Register:
    return services().register(current_operator().municipality_code)


def checked_code(raw: str) -> str:
    """A resident code from a URL or a form (full-width digits allowed), else InvalidInput."""
    code = unicodedata.normalize("NFKC", raw).strip()
    if not is_valid_resident_code(code):
        raise InvalidInput(CODE_RULE, field="resident_code")
    return code


# -- search ------------------------------------------------------------------------------------


@blueprint.get("/")
@operator_required()
def home() -> ResponseReturnValue:
    """住民検索: by resident code, by the start of the kana name and/or the birth date."""
    form = SearchForm(request.args)
    asked = any(name in request.args for name in ("resident_code", "name_kana", "birth_date"))
    results: list[ResidentRecord] | None = None
    error = None
    if asked:
        try:
            results = _search(form)
        except RegisterError as exc:
            error = explain(exc)
    operator = current_operator()
    return render_template(
        "counter/home.html", form=form, results=results, error=error,
        limit=SEARCH_LIMIT, may_act=operator.role in ACTORS, new_kinds=NEW_KINDS,
        slug=slug), 400 if error else 200


def _search(form: SearchForm) -> list[ResidentRecord]:
    operator = current_operator()
    register = register_of_operator()
    code = (form.resident_code.data or "").strip()
    kana = (form.name_kana.data or "").strip()
    birth = (form.birth_date.data or "").strip()
    if code:
        code = checked_code(code)
        try:
            return [register.record(code, operator=operator.login)]
        except NotFound:
            return []
    if not kana and not birth:
        raise InvalidInput("住民票コード、フリガナ、生年月日のいずれかを入力してください。")
    if birth:
        try:
            PartialDate.parse(birth)
        except DateError:
            raise InvalidInput("生年月日を読み取れません（例: 昭和25年3月15日、1950-03-15）。",
                               field="birth_date") from None
    try:
        return register.search(operator=operator.login, name_kana=kana or None,
                               birth_date=birth or None,
                               include_removed=bool(form.include_removed.data),
                               limit=SEARCH_LIMIT)
    except InvalidInput as exc:
        if exc.fields.get("field") == "name_kana":
            raise InvalidInput("フリガナはカタカナまたはひらがなで入力してください。",
                               field="name_kana") from exc
        raise


@blueprint.get("/copy")
@operator_required(*ACTORS)
def copy_lookup() -> ResponseReturnValue:
    """The wide-area copy screen for a resident code typed at the search screen."""
    try:
        code = checked_code(request.args.get("code", ""))
    except InvalidInput as exc:
        flash(explain(exc), "error")
        return redirect(url_for("counter.home"))
    return redirect(url_for("counter.copy", code=code))


# -- the record --------------------------------------------------------------------------------


@blueprint.get("/residents/<code>")
@operator_required()
def resident(code: str) -> ResponseReturnValue:
    """住民票: every statutory item, the household, the history and the certificates."""
    operator = current_operator()
    register = register_of_operator()
    try:
        code = checked_code(code)
        record = register.record(code, operator=operator.login)
        if record.resident_code != code:  # a former resident code
            flash(f"住民票コード {code} は変更されています。現在の住民票コードで表示します。",
                  "info")
            return redirect(url_for("counter.resident", code=record.resident_code))
        history = register.history(code, operator=operator.login)
        household = _household(register, record, operator.login)
    except RegisterError as exc:
        raise japanese(exc) from exc
    now = services().clock.now()
    watch = session.pop(WATCH_KEY, None) == code or any(
        now - r.recorded_at < WATCH_AFTER_CHANGE for r in history[-1:])
    show_number = request.args.get("show_number") == "1" and operator.role in ACTORS
    response = render_template(
        "counter/resident.html", record=record, items=record_items(record, show_number),
        household=household, history=history, certificates=certificate_lines(code),
        watch=watch, may_act=operator.role in ACTORS, kinds=RESIDENT_KINDS, slug=slug,
        may_show_number=operator.role in ACTORS and bool(record.individual_number),
        show_number=show_number, era_date=era_date, jst_datetime=jst_datetime)
    return response, 200, {"Cache-Control": "no-store"}


@blueprint.get("/residents/<code>/certificates")
@operator_required()
def certificates(code: str) -> ResponseReturnValue:
    """The certificates table alone, re-read by the record page after a change."""
    try:
        code = checked_code(code)
    except RegisterError as exc:
        raise japanese(exc) from exc
    body = render_template("counter/_certificates.html", certificates=certificate_lines(code),
                           code=code)
    return body, 200, {"Cache-Control": "no-store"}


def watch_certificates(resident_code: str) -> None:
    """Ask the next record page of ``resident_code`` to re-read its certificates for a while."""
    session[WATCH_KEY] = resident_code


def _household(register: Register, record: ResidentRecord, login: str) -> list[ResidentRecord]:
    if record.state is not RecordState.ACTIVE or record.household_id is None:
        return []
    try:
        return register.household(record.household_id, operator=login)
    except NotFound:
        return []


def record_items(record: ResidentRecord, show_number: bool) -> list[tuple[str, str]]:
    """Every statutory item of the record (住民基本台帳法 §7), labelled, in the register's
    order; items that do not apply to the person are left out."""
    number = record.individual_number or ""
    items: list[tuple[str, str]] = [
        ("状態", "除票" if record.state is RecordState.REMOVED else "現住"),
        ("氏名", record.name),
        ("フリガナ", record.name_kana),
        ("旧氏", record.former_surname or ""),
        ("生年月日", era_date(record.birth_date)),
        ("性別", record.sex.label),
        ("続柄", record.relationship),
        ("世帯番号", str(record.household_id or "")),
        ("住所", record.address),
        ("住民となった年月日", era_date(record.became_resident_on)),
        ("住所を定めた年月日", era_date(record.address_fixed_on)),
        ("住所を定めた旨の届出年月日", era_date(record.address_notified_on)),
        ("従前の住所", record.previous_address or ""),
    ]
    if record.foreign_resident:
        items += [
            ("外国人住民", "外国人住民"),
            ("通称", " ".join(v for v in (record.alias, record.alias_kana) if v)),
            ("国籍・地域", record.nationality or ""),
            ("在留資格", record.residence_status or ""),
            ("在留期間の満了日", era_date(record.residence_period_end)),
        ]
    else:
        items += [("本籍", record.domicile or ""), ("筆頭者", record.domicile_head or "")]
    items += [
        ("住民票コード", record.resident_code),
        ("個人番号", number if show_number else mask_individual_number(number)),
        ("選挙人名簿登録", yes_no(record.electoral_roll)),
        ("国民健康保険", yes_no(record.national_health_insurance)),
        ("介護保険", yes_no(record.long_term_care)),
        ("国民年金", yes_no(record.national_pension)),
        ("児童手当", yes_no(record.child_allowance)),
        ("最後の異動", f"{record.kind.label}（{era_date(record.effective_on)}、"
                     f"履歴番号 {record.seq}）"),
    ]
    if record.removal_reason is not None:
        items += [
            ("消除の事由", record.removal_reason.label),
            ("消除の年月日", era_date(record.removed_on)),
            ("転出先", record.destination or ""),
            ("転入の通知を受けた日", era_date(record.destination_confirmed_on)),
        ]
    return [(name, value) for name, value in items if value]


# -- certificates ------------------------------------------------------------------------------


def certificate_lines(resident_code: str) -> list[CertificateLine] | None:
    """The holder's signing and authentication certificates, newest first, with status; None
    when the CA side cannot be opened (no CA passphrase given to this process, say)."""
    try:
        return _certificate_lines(resident_code)
    except (CaError, RevocationError, ConfigError) as exc:
        log.warning("certificates of a resident unavailable: %s", type(exc).__name__)
        return None


def _certificate_lines(resident_code: str) -> list[CertificateLine]:
    built = services()
    with built.sessions() as db:
        codes = all_codes(resident_code, former_codes(db, [resident_code]))
    side = built.revocation
    now = built.clock.now()
    records = [r for r in side.directory.by_holder(sorted(codes)) if r.kind in KIND_LABELS]
    lines = []
    for record in reversed(records):
        result = side.service.status(record.issuer_key_id, record.serial)
        status, status_label, detail = _status(result.state, result.revocation,
                                               record.not_after, now)
        lines.append(CertificateLine(
            kind=record.kind, kind_label=KIND_LABELS[record.kind], serial=f"{record.serial:x}",
            card_id=record.card_id, not_before=jst_datetime(record.not_before),
            not_after=jst_datetime(record.not_after), status=status,
            status_label=status_label, detail=detail))
    return lines


def _status(state: CertStatus, revocation: Revocation | None, not_after: datetime,
            now: datetime) -> tuple[str, str, str]:
    """(data-status, status label, reason and time) of one certificate."""
    if state is CertStatus.REVOKED and revocation is not None:
        when = jst_datetime(revocation.revoked_at)
        reason = CAUSE_LABELS.get(revocation.cause, revocation.reason.value)
        if revocation.reason is ReasonFlags.certificate_hold:
            return "hold", "一時停止", f"{reason}（{when}）"
        return "revoked", "失効", f"{reason}（{when}）"
    if state is CertStatus.GOOD:
        if not_after <= now:
            return "expired", "期限切れ", ""
        return "valid", "有効", ""
    return "unknown", "不明", ""
