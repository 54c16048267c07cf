"""Card enrolment at the counter: register → card → CA → card → register.

1. the operator (clerk or supervisor of the municipality) finds the resident; the record is read
   at this moment (audited) and must be active;
2. a new card is made in a temporary file: the resident's PINs are set and the card generates
   both key pairs inside itself;
3. the CA issues the certificates (lint, intended, signed, stored) for the card's public keys,
   with the basic four read in step 1;
4. the certificates are written to the card, the register records the card, its serials and the
   identity document checked (audited), and only then does the card file take its final name.

A failure at any step leaves no card: the temporary image (and with it the private keys) is
deleted, so certificates issued in step 3 for it can never be used; the CA's intended and issued
stores keep them, linked to the card id, for the revocation service.

Renewal and re-issue onto the same card (``renew``, ``reissue``)
-----------------------------------------------------------------
The holder brings the card to the counter; the operator checks an identity document (recorded in
the audit log). For each certificate replaced, the card generates a new key pair inside itself
(the old private key is overwritten) and the CA issues a new certificate with the basic four read
from the register now. The card's PINs stay as they are, as on a JPKI card: the holder keeps
the auth PIN and the signing password (a forgotten one is reset separately, ``reset_pin``).

- Renewal (更新): the certificate is still good and its expiry is near: allowed from the start
  (JST) of the day three months before its last valid day (``renewal_opens``), refused earlier.
  ``both`` renews every certificate the card holds.
- Re-issue (再発行): the certificate was revoked (e.g. the signing certificate after a relocation
  or a name change, ``affiliationChanged``) or has expired, or the card has no signing
  certificate yet and the holder is now 15. Refused while the certificate is good (that is
  renewal's job).

Both are refused for a lost or returned card, a card of another municipality, a removed record,
and (signing certificate) a holder under 15. The previous certificates of the kinds replaced, and
any certificate issued for an earlier attempt that was thrown away, are revoked as
``superseded`` (``RevocationService.supersede``).

All or nothing, as for enrolment: the card file stays locked throughout while the work happens
on a sealed copy, which replaces the card file only at the end; on any failure the copy (and with
it the new keys) is deleted, so certificates already issued for it can never be used. The order
of the last steps is chosen to fail closed: superseding, then the register's card record, then
the card file. A failure after superseding leaves the holder with the old card and revoked old
certificates, which a re-issue then replaces; never a good certificate whose key is still
usable and that nobody accounts for.
"""

from __future__ import annotations

import calendar
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from ca.authority import CertificateAuthority, Issued, Request
from ca.enrolment import (
    CertificatePair,
    Holder,
    authentication_request,
    issue_pair,
    signing_request,
)
from jukibridge import cards
from jukibridge.cards import CardRecord
from jukibridge.errors import Conflict, InvalidInput
from jukibridge.records import RecordState, Role
from pki.card import ImageError, Kind, VirtualCard
from pki.validity import JST, ValidityRule, jst_day
from revocation.ports import CertificateRecord
from revocation.service import CertRef, CertStatus, Outcome
from web import secrets
from web.services import Services


@dataclass(frozen=True)
class Enrolment:
    card_id: str
    path: Path
    resident_code: str
    pair: CertificatePair


def holder_of(services: Services, resident_code: str, *, operator: str,
              municipality_code: str | None = None) -> tuple[Holder, int]:
    """The holder as the register says now, and the person id."""
    register = services.register(municipality_code)
    record = register.record(resident_code, operator=operator)
    prefecture = register.address_prefix.removesuffix(register.municipality_name)
    holder = Holder(resident_code=record.resident_code, name=record.name, sex=int(record.sex),
                    birth_date=record.birth_date, address=record.address,
                    municipality_code=register.municipality_code, prefecture=prefecture,
                    municipality=register.municipality_name,
                    active=record.state is RecordState.ACTIVE)
    return holder, record.person_id


def enrol(services: Services, *, operator: str, resident_code: str, identity_document: str,
          auth_pin: str, signing_password: str, out: Path,
          municipality_code: str | None = None) -> Enrolment:
    """Issue a card to a resident; see the module docstring for the steps."""
    register = services.register(municipality_code)
    register.check_operator(operator, Role.CLERK, Role.SUPERVISOR)
    holder, person_id = holder_of(services, resident_code, operator=operator,
                                  municipality_code=municipality_code)
    if out.exists():
        raise FileExistsError(f"{out} exists: a card is never overwritten")
    seal_key = secrets.card_seal_key(services.settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.enrolling")
    card = VirtualCard.create(temporary, seal_key, auth_pin=auth_pin,
                              signing_password=signing_password)
    try:
        pair = issue_pair(services.ca, holder, card_id=card.card_id,
                          signing_key=card.public_key("sign"), auth_key=card.public_key("auth"),
                          issued_at=services.clock.now(), rule=services.validity_rule)
        signing = pair.signing
        card.install_certificates(
            auth_cert=_der(pair.authentication.certificate),
            auth_ca_cert=_der(pair.authentication.issuer.certificate),
            sign_cert=_der(signing.certificate) if signing else None,
            sign_ca_cert=_der(signing.issuer.certificate) if signing else None)
        card.close()
        with services.sessions() as session, session.begin():
            cards.record_card(session, services.clock, card_id=card.card_id,
                              person_id=person_id,
                              signing_serial=signing.serial if signing else None,
                              auth_serial=pair.authentication.serial,
                              identity_document=identity_document, operator=operator)
        os.replace(temporary, out)
    except BaseException:
        card.close()
        temporary.unlink(missing_ok=True)
        raise
    finally:
        temporary.with_name(temporary.name + ".lock").unlink(missing_ok=True)
    return Enrolment(card_id=card.card_id, path=out, resident_code=holder.resident_code,
                     pair=pair)


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.DER)


def reset_pin(services: Services, *, operator: str, card_path: Path, kind: str, new_pin: str,
              identity_document: str, municipality_code: str | None = None) -> str:
    """Reset a (locked or forgotten) PIN at the counter after checking the holder's identity;
    returns the card id. Only an active card recorded by this municipality is reset."""
    register = services.register(municipality_code)
    register.check_operator(operator, Role.CLERK, Role.SUPERVISOR)
    seal_key = secrets.card_seal_key(services.settings)
    with VirtualCard.open(card_path, seal_key) as card:
        with services.sessions() as session, session.begin():
            record = cards.require_active(session, card.card_id, register.municipality_code)
            card.reset_pin("sign" if kind == "sign" else "auth", new_pin)
            cards.log_counter_action(session, services.clock, card_id=record.card_id,
                                     action=f"card.pin_reset.{kind}", operator=operator,
                                     municipality_code=record.municipality_code,
                                     identity_document=identity_document)
        return card.card_id


# -- renewal and re-issue ------------------------------------------------------------------------

RENEWAL_MONTHS = 3  # renewal opens three months before the expiry (issue 4)
Status = Literal["good", "revoked", "expired", "none"]
Refusal = Literal["too_early", "revoked", "expired", "no_certificate", "still_good"]
REQUESTS: Mapping[Kind, Callable[..., Request]] = {"sign": signing_request,
                                                   "auth": authentication_request}
RENEW, REISSUE = "card.renew", "card.reissue"  # the audit actions (jukibridge.cards)
_LABELS: Mapping[Kind, str] = {"sign": "signing certificate",
                               "auth": "authentication certificate"}


class MaintenanceRefused(Conflict):
    """A renewal or re-issue that the certificate's state does not allow now; ``reason`` says
    why (``too_early`` with ``opens_at``, ``revoked``, ``expired``, ``no_certificate``,
    ``still_good``) and ``kind`` which certificate."""

    code = "maintenance-refused"


@dataclass(frozen=True)
class CertificateState:
    """The certificate of one kind that the register records for a card, and where it stands."""

    kind: Kind
    certificate: CertificateRecord | None
    status: Status
    renewal_opens: datetime | None  # for a certificate with a notAfter

    def renewal_refusal(self, now: datetime) -> MaintenanceRefused | None:
        """Why this certificate cannot be renewed at ``now`` (None: it can)."""
        label = _LABELS[self.kind]
        if self.status == "none":
            return MaintenanceRefused(f"the card holds no {label} to renew",
                                      reason="no_certificate", kind=self.kind)
        if self.status != "good":
            return MaintenanceRefused(f"the {label} is {self.status}: re-issue it instead",
                                      reason=self.status, kind=self.kind)
        if self.renewal_opens is not None and now < self.renewal_opens:
            return MaintenanceRefused(
                f"the {label} may be renewed from {self.renewal_opens.isoformat()} "
                f"(three months before it expires)", reason="too_early", kind=self.kind,
                opens_at=self.renewal_opens)
        return None

    def reissue_refusal(self) -> MaintenanceRefused | None:
        """Why this certificate cannot be re-issued (None: it can)."""
        if self.status == "good":
            label = _LABELS[self.kind]
            return MaintenanceRefused(f"the {label} is still good: renew it when its expiry is "
                                      "near, or revoke it first", reason="still_good",
                                      kind=self.kind)
        return None


@dataclass(frozen=True)
class Replacement:
    """What a renewal or re-issue did."""

    action: str  # card.renew or card.reissue
    card_id: str
    path: Path
    issued: dict[Kind, Issued]
    superseded: list[Outcome]  # revocations this replacement recorded now


def renewal_opens(not_after: datetime) -> datetime:
    """The start (00:00 JST) of the day three calendar months before the last valid day; the
    month's last day when that day does not exist (31 May → 28/29 February)."""
    last = jst_day(not_after)
    months = last.year * 12 + last.month - 1 - RENEWAL_MONTHS
    year, month = divmod(months, 12)
    day = min(last.day, calendar.monthrange(year, month + 1)[1])
    return datetime.combine(date(year, month + 1, day), time(0), JST).astimezone(UTC)


def certificate_states(services: Services, card: CardRecord) -> dict[Kind, CertificateState]:
    """Each kind's certificate as the register records it for ``card``, with its status now."""
    now = services.clock.now()
    on_card = services.revocation.directory.by_card(card.card_id)
    states: dict[Kind, CertificateState] = {}
    recorded: dict[Kind, str | None] = {"sign": card.signing_serial, "auth": card.auth_serial}
    for kind, serial in recorded.items():
        record = next((r for r in on_card if r.kind == kind and serial is not None
                       and str(r.serial) == serial), None)
        status: Status = "none"
        if record is not None:
            found = services.revocation.service.status(record.issuer_key_id, record.serial)
            if found.state is not CertStatus.GOOD:
                status = "revoked"  # fail closed: an unknown status is never good
            else:
                status = "expired" if record.not_after <= now else "good"
        states[kind] = CertificateState(
            kind=kind, certificate=record, status=status,
            renewal_opens=renewal_opens(record.not_after) if record is not None else None)
    return states


def renewable_kinds(states: Mapping[Kind, CertificateState], kind: str,
                    now: datetime) -> tuple[Kind, ...]:
    """The kinds a renewal of ``kind`` (``sign``, ``auth`` or ``both``: every certificate the
    card holds) replaces; raises ``MaintenanceRefused`` if one of them may not be renewed."""
    if kind == "both":
        both: tuple[Kind, ...] = ("sign", "auth")
        kinds = tuple(k for k in both if states[k].status != "none") or ("auth",)
    else:
        kinds = (_kind(kind),)
    for each in kinds:
        refusal = states[each].renewal_refusal(now)
        if refusal is not None:
            raise refusal
    return kinds


def reissuable_kinds(states: Mapping[Kind, CertificateState], kind: str,
                     now: datetime) -> tuple[Kind, ...]:
    """``(kind,)`` if its certificate may be re-issued; raises ``MaintenanceRefused`` if not."""
    chosen = _kind(kind)
    refusal = states[chosen].reissue_refusal()
    if refusal is not None:
        raise refusal
    return (chosen,)


def _kind(value: str) -> Kind:
    if value == "sign":
        return "sign"
    if value == "auth":
        return "auth"
    raise InvalidInput("the certificate kind is sign or auth", field="kind")


def renew(services: Services, *, operator: str, card_path: Path, kind: str = "both",
          identity_document: str, municipality_code: str | None = None) -> Replacement:
    """Renew the card's certificate(s) of ``kind`` near their expiry (see the module
    docstring)."""
    return _replace(services, RENEW, renewable_kinds, operator=operator, card_path=card_path,
                    kind=kind, identity_document=identity_document,
                    municipality_code=municipality_code)


def reissue(services: Services, *, operator: str, card_path: Path, kind: str,
            identity_document: str, municipality_code: str | None = None) -> Replacement:
    """Re-issue the card's revoked, expired or missing certificate of ``kind`` (see the module
    docstring)."""
    return _replace(services, REISSUE, reissuable_kinds, operator=operator,
                    card_path=card_path, kind=kind, identity_document=identity_document,
                    municipality_code=municipality_code)


Choose = Callable[[Mapping[Kind, CertificateState], str, datetime], tuple[Kind, ...]]


def _replace(services: Services, action: str, choose: Choose, *, operator: str, card_path: Path,
             kind: str, identity_document: str, municipality_code: str | None) -> Replacement:
    """New keys on a copy of the card, new certificates, supersede, register, card file."""
    register = services.register(municipality_code)
    register.check_operator(operator, Role.CLERK, Role.SUPERVISOR)
    if not identity_document.strip():
        raise InvalidInput("name the identity document that was checked",
                           field="identity_document")
    seal_key = secrets.card_seal_key(services.settings)
    card_path = Path(card_path)
    with VirtualCard.open(card_path, seal_key) as held:  # locked until the end
        with services.sessions() as session:
            record = cards.require_active(session, held.card_id, register.municipality_code)
        now = services.clock.now()
        kinds = choose(certificate_states(services, record), kind, now)
        holder, _ = holder_of(services, record.resident_code, operator=operator,
                              municipality_code=register.municipality_code)
        temporary = card_path.with_name(f".{card_path.name}.{action.removeprefix('card.')}")
        try:
            _copy_private(card_path, temporary)
            issued = _rekey_and_issue(temporary, seal_key, held, kinds, services.ca, holder,
                                      now, services.validity_rule)
            superseded: list[Outcome] = []
            for new in issued.values():
                superseded += services.revocation.service.supersede(
                    CertRef(new.issuer.key_id, new.serial), operator=operator)
            with services.sessions() as session, session.begin():
                cards.replace_certificates(
                    session, services.clock, held.card_id,
                    serials={k: new.serial for k, new in issued.items()}, action=action,
                    operator=operator, municipality_code=register.municipality_code,
                    identity_document=identity_document)
            os.replace(temporary, card_path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        finally:
            temporary.with_name(temporary.name + ".lock").unlink(missing_ok=True)
        return Replacement(action=action, card_id=held.card_id, path=card_path, issued=issued,
                           superseded=[o for o in superseded if o.changed])


def _copy_private(source: Path, target: Path) -> None:
    """Copy the sealed image to ``target``, readable by the owner only (as the card writes)."""
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(source.read_bytes())


def _rekey_and_issue(path: Path, seal_key: bytes, held: VirtualCard, kinds: tuple[Kind, ...],
                     ca: CertificateAuthority, holder: Holder, now: datetime,
                     rule: ValidityRule) -> dict[Kind, Issued]:
    """On the copy at ``path``: a new key per kind, its certificate from the CA, installed."""
    with VirtualCard.open(path, seal_key, min_generation=held.generation) as copy:
        if copy.card_id != held.card_id:
            raise ImageError("the copy of the card is another card")
        keys: dict[Kind, rsa.RSAPublicKey] = {k: copy.regenerate_key(k) for k in kinds}
        issued = dict(zip(kinds, ca.issue_together([
            REQUESTS[k](ca, holder, card_id=copy.card_id, key=keys[k], issued_at=now, rule=rule)
            for k in kinds]), strict=True))
        for k, new in issued.items():
            copy.install_certificate(k, _der(new.certificate), _der(new.issuer.certificate))
    return issued
