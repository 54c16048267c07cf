"""What our own CAs and revocation service say about one certificate (the portal's self-check,
the resident's certificate list and the card login all use this).

The issuer is found by checking the certificate's signature against every generation of both
CAs (a certificate from another CA that copies our DN is "not ours"); its record and status come
from the revocation service over the CA's issued store; expiry is judged on the service's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509 import ReasonFlags

from ca.authority import Generation
from pki.profile import CertKind
from revocation.ports import CertificateRecord
from revocation.rules import Cause
from revocation.service import CertStatus, Revocation
from web.services import Services

JST = timezone(timedelta(hours=9), "JST")


class Verdict(Enum):
    """The answer shown to a resident (also the ``data-status`` of the portal pages)."""

    VALID = "valid"  # 有効
    REVOKED = "revoked"  # 失効
    HOLD = "hold"  # 一時停止 (certificateHold, never released)
    EXPIRED = "expired"  # 有効期限切れ
    UNKNOWN = "unknown"  # not issued by our CAs (or no record of it)


VERDICT_LABELS = {
    Verdict.VALID: "有効",
    Verdict.REVOKED: "失効",
    Verdict.HOLD: "一時停止",
    Verdict.EXPIRED: "有効期限切れ",
    Verdict.UNKNOWN: "当サービスの発行ではありません",
}
KIND_LABELS = {
    "sign": "署名用電子証明書",
    "auth": "利用者証明用電子証明書",
    "ocsp": "失効情報応答者の証明書",
    "link": "認証局のリンク証明書",
}
CAUSE_LABELS = {
    Cause.BASIC_FOUR_CHANGED: "基本4情報（氏名・生年月日・性別・住所）の変更",
    Cause.RECORD_REMOVED: "住民票の消除（死亡・国外への転出など）",
    Cause.HOLDER_REQUEST: "ご本人の申請",
    Cause.KEY_COMPROMISE: "秘密鍵の漏えいの届出",
    Cause.CARD_LOST: "カードの紛失の届出",
    Cause.RENEWAL: "新しい証明書の発行（更新）",
    Cause.CA_COMPROMISE: "認証局の鍵の危殆化",
}
REASON_LABELS = {
    ReasonFlags.unspecified: "理由の指定なし",
    ReasonFlags.key_compromise: "鍵の危殆化",
    ReasonFlags.ca_compromise: "認証局の鍵の危殆化",
    ReasonFlags.affiliation_changed: "記載事項の変更",
    ReasonFlags.superseded: "証明書の更新",
    ReasonFlags.cessation_of_operation: "利用の終了",
    ReasonFlags.certificate_hold: "一時停止",
}


@dataclass(frozen=True)
class CertificateCheck:
    """The verdict on one certificate, with what it rests on."""

    verdict: Verdict
    certificate: x509.Certificate
    issuer: Generation | None  # None: not signed by any generation of our CAs
    record: CertificateRecord | None  # the issued store's entry
    revocation: Revocation | None
    now: datetime

    @property
    def kind(self) -> str | None:
        """``sign`` / ``auth`` for a holder's certificate (``ocsp``, ``link`` otherwise)."""
        if self.record is not None:
            return self.record.kind
        return self.issuer.kind.value if self.issuer is not None else None

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind or "", "不明な種類の証明書")

    @property
    def not_before(self) -> datetime:
        return self.certificate.not_valid_before_utc

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    @property
    def ours(self) -> bool:
        return self.issuer is not None and self.record is not None

    @property
    def not_yet_valid(self) -> bool:
        return self.ours and self.now < self.not_before

    @property
    def label(self) -> str:
        if self.verdict is Verdict.UNKNOWN and self.ours:
            return "まだ有効期間が始まっていません"
        return VERDICT_LABELS[self.verdict]

    @property
    def revocation_reason(self) -> str:
        """Why it was revoked, in Japanese (empty when it is not)."""
        r = self.revocation
        if r is None:
            return ""
        return CAUSE_LABELS.get(r.cause) or REASON_LABELS.get(r.reason, r.reason.value)

    @property
    def sentence(self) -> str:
        """One plain Japanese sentence for the resident."""
        r = self.revocation
        if self.verdict is Verdict.VALID:
            return f"この{self.kind_label}は有効です（有効期限：{jst(self.not_after)}）。"
        if self.verdict is Verdict.HOLD and r is not None:
            return (f"この{self.kind_label}は、{self.revocation_reason}により"
                    f"{jst(r.revoked_at)}から一時停止されています。"
                    "一時停止が解除されることはありません。")
        if self.verdict is Verdict.REVOKED and r is not None:
            return (f"この{self.kind_label}は、{self.revocation_reason}により"
                    f"{jst(r.revoked_at)}に失効しています。")
        if self.verdict is Verdict.EXPIRED:
            return f"この{self.kind_label}は有効期限（{jst(self.not_after)}）が切れています。"
        if self.not_yet_valid:
            return f"この{self.kind_label}の有効期間は{jst(self.not_before)}から始まります。"
        if self.issuer is not None:
            return "この証明書は当サービスの発行記録にありません。"
        return "この証明書は当サービス（公的個人認証サービス）の発行ではありません。"


def jst(moment: datetime) -> str:
    """``2026年4月1日 10:00:00`` in Japan time, as residents read it."""
    local = moment.astimezone(JST)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M:%S}"


def issuer_of(services: Services, certificate: x509.Certificate,
              kinds: tuple[CertKind, ...] = (CertKind.SIGNING, CertKind.AUTHENTICATION)
              ) -> Generation | None:
    """The generation of our CAs whose key signed ``certificate`` (any generation), or None."""
    for kind in kinds:
        for generation in services.ca.generations(kind):
            try:
                certificate.verify_directly_issued_by(generation.certificate)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return generation
    return None


def check(services: Services, certificate: x509.Certificate,
          kinds: tuple[CertKind, ...] = (CertKind.SIGNING, CertKind.AUTHENTICATION)
          ) -> CertificateCheck:
    """Judge ``certificate``: issuer, status in our revocation service, then expiry."""
    now = services.clock.now()
    issuer = issuer_of(services, certificate, kinds)
    if issuer is None:
        return CertificateCheck(Verdict.UNKNOWN, certificate, None, None, None, now)
    status = services.revocation.service.status(issuer.key_id, certificate.serial_number)
    record = status.certificate
    if status.state is CertStatus.REVOKED and status.revocation is not None:
        held = status.revocation.reason is ReasonFlags.certificate_hold
        return CertificateCheck(Verdict.HOLD if held else Verdict.REVOKED, certificate, issuer,
                                record, status.revocation, now)
    if status.state is not CertStatus.GOOD or record is None:
        return CertificateCheck(Verdict.UNKNOWN, certificate, issuer, None, None, now)
    if now > certificate.not_valid_after_utc:
        verdict = Verdict.EXPIRED
    elif now < certificate.not_valid_before_utc:
        verdict = Verdict.UNKNOWN
    else:
        verdict = Verdict.VALID
    return CertificateCheck(verdict, certificate, issuer, record, None, now)
