"""Registered verifiers (署名検証者) and the latest-basic-four service they may use.

A verifier is an organisation that receives signed documents: a national agency, a local
government, or a private business certified by the minister (総務大臣認定事業者). Registration
gives it an API key, shown once: ``jv1.<key id>.<secret>``, where the key id (8 random bytes,
hex) finds the verifier and the secret (32 random bytes) proves it. Only the SHA-256 of the
whole key is stored, and it is compared in constant time. A verifier may be suspended; its key
then proves who it is but grants nothing.

What a key grants:

- in a verification report, each signer's basic four as their signing certificate carries them,
  to an active verifier of an entitled kind (``VerifierKind.entitled``);
- for a *revoked* signing certificate, the holder's *current* basic four from the national
  server (最新の基本4情報の提供), to an active entitled verifier, only if the holder consented
  (``consents.state_of``). The national server's store and the holder's provision log live in
  the register's package: they come in through the ``HolderRegister`` port, which ``web``
  implements. Every answer and refusal about a holder is written to the holder's provision log,
  so the resident sees it in their disclosure (提供状況の開示).

The service keeps its own append-only log (``revocation_verifier_log``) rather than writing to
the register's audit chain: the revocation service may live in its own database (DESIGN.md §3),
and a verifier's key use is not an act on the register. Registration, suspension, every refused
key of a known verifier and every use are logged there; keys never are.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import NoReturn, Protocol

from cryptography.x509 import ReasonFlags
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pki.clock import Clock
from pki.profile import CertKind
from revocation.consents import ConsentState, linked_codes, state_of
from revocation.errors import (
    InvalidRequest,
    NotApplicable,
    NotPermitted,
    RevocationError,
    UnknownCertificate,
    VerifierUnauthorized,
)
from revocation.ports import CertificateDirectory, CertificateRecord, Issuer
from revocation.service import revocation_of
from revocation.status_lookup import find_issuer
from revocation.tables import VerifierLogEntry, VerifierRow

log = logging.getLogger(__name__)

KEY_PREFIX = "jv1"
MAX_NAME = 40  # the provision log's agency column: the resident sees the whole name
MAX_KEY = 120  # a longer Authorization value is not one of our keys; refused before hashing
_KEY = re.compile(r"jv1\.([0-9a-f]{16})\.[A-Za-z0-9_-]{43}")


class VerifierKind(Enum):
    """Who the verifier is; decides whether it may see basic four."""

    NATIONAL = "national"  # 国の機関
    LOCAL = "local"  # 地方公共団体
    CERTIFIED = "certified"  # 総務大臣認定事業者 (a private business certified by the minister)
    PRIVATE = "private"  # a registered private business without certification

    @property
    def entitled(self) -> bool:
        """May see signers' basic four (in reports, and the latest ones with consent)."""
        return self is not VerifierKind.PRIVATE


class VerifierState(Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Event(Enum):
    """What the verifier log records."""

    REGISTERED = "registered"
    SUSPENDED = "suspended"
    REINSTATED = "reinstated"
    KEY_ROTATED = "key_rotated"  # a new key replaced the old one, which grants nothing now
    KEY_REFUSED = "key_refused"  # a known key id with a wrong secret
    REPORT = "report"  # a verification report asked for with the key
    LATEST_BASIC_FOUR = "latest_basic_four"


class LogOutcome(Enum):
    DONE = "done"  # registered, suspended; a report with no signer certificate
    PROVIDED = "provided"  # basic four given
    WITHHELD = "withheld"  # a report without basic four (suspended or not entitled)
    REFUSED = "refused"
    NOT_FOUND = "not_found"


@dataclass(frozen=True)
class Verifier:
    """A registered verifier (never its key)."""

    verifier_id: int
    name: str
    kind: VerifierKind
    key_id: str
    state: VerifierState
    registered_at: datetime
    registered_by: str
    suspended_at: datetime | None
    suspended_by: str | None

    @property
    def active(self) -> bool:
        return self.state is VerifierState.ACTIVE

    @property
    def may_see_basic_four(self) -> bool:
        """Active and of an entitled kind."""
        return self.active and self.kind.entitled

    @classmethod
    def from_row(cls, row: VerifierRow) -> Verifier:
        return cls(verifier_id=row.verifier_id, name=row.name, kind=VerifierKind(row.kind),
                   key_id=row.key_id, state=VerifierState(row.state),
                   registered_at=row.registered_at, registered_by=row.registered_by,
                   suspended_at=row.suspended_at, suspended_by=row.suspended_by)


@dataclass(frozen=True)
class Registration:
    """A new verifier and its API key: the only time the key is ever available."""

    verifier: Verifier
    api_key: str

    def __repr__(self) -> str:  # keep the key out of logs and tracebacks
        return f"Registration(verifier={self.verifier!r}, api_key=<hidden>)"


@dataclass(frozen=True)
class Suspension:
    verifier: Verifier
    changed: bool  # False: it was suspended before; nothing was recorded


@dataclass(frozen=True)
class LogRecord:
    """One entry of the verifier log."""

    log_id: int
    at: datetime
    verifier_id: int | None
    event: Event
    outcome: LogOutcome
    operator: str | None
    issuer_key_id: str | None
    serial: int | None
    detail: str | None

    @classmethod
    def from_row(cls, row: VerifierLogEntry) -> LogRecord:
        return cls(log_id=row.log_id, at=row.at, verifier_id=row.verifier_id,
                   event=Event(row.event), outcome=LogOutcome(row.outcome),
                   operator=row.operator, issuer_key_id=row.issuer_key_id,
                   serial=int(row.serial) if row.serial is not None else None,
                   detail=row.detail)


# -- the registry ----------------------------------------------------------------------------------


def _digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def _new_key() -> tuple[str, str]:
    """A key id and the whole key: ``jv1.<8 random bytes, hex>.<32 random bytes, base64url>``."""
    key_id = secrets.token_hex(8)
    return key_id, f"{KEY_PREFIX}.{key_id}.{secrets.token_urlsafe(32)}"


def _name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise InvalidRequest(f"a verifier's name has 1 to {MAX_NAME} printable characters",
                             field="name")
    return name


def _operator(operator: str) -> str:
    operator = operator.strip()
    if not operator or len(operator) > 64:
        raise InvalidRequest("name the operator (1 to 64 characters)", field="operator")
    return operator


def _write_log(session: Session, at: datetime, verifier_id: int | None, event: Event,
               outcome: LogOutcome, *, operator: str | None = None,
               certificate: tuple[str | None, int] | None = None,
               detail: str | None = None) -> None:
    session.add(VerifierLogEntry(
        at=at, verifier_id=verifier_id, event=event.value, outcome=outcome.value,
        operator=operator, issuer_key_id=certificate[0] if certificate else None,
        serial=str(certificate[1]) if certificate else None,
        detail=detail[:200] if detail else None))


def register(sessions: sessionmaker[Session], clock: Clock, *, name: str, kind: VerifierKind,
             operator: str) -> Registration:
    """Register a verifier; the returned key is shown once and never stored (only its hash)."""
    name, operator = _name(name), _operator(operator)
    key_id, api_key = _new_key()
    now = clock.now()
    try:
        with sessions() as session, session.begin():
            if session.scalars(select(VerifierRow).where(VerifierRow.name == name)).first():
                raise InvalidRequest(f"a verifier named {name!r} is registered already",
                                     field="name")
            row = VerifierRow(name=name, kind=kind.value, key_id=key_id,
                              key_hash=_digest(api_key), state=VerifierState.ACTIVE.value,
                              registered_at=now, registered_by=operator)
            session.add(row)
            session.flush()
            _write_log(session, now, row.verifier_id, Event.REGISTERED, LogOutcome.DONE,
                       operator=operator, detail=f"{kind.value}: {name}")
            verifier = Verifier.from_row(row)
    except IntegrityError:  # a concurrent registration under the same name
        raise InvalidRequest(f"a verifier named {name!r} is registered already",
                             field="name") from None
    return Registration(verifier, api_key)


def suspend(sessions: sessionmaker[Session], clock: Clock, verifier_id: int, *,
            operator: str) -> Suspension:
    """Suspend a verifier: its key grants nothing any more (nothing new if it was suspended)."""
    operator = _operator(operator)
    now = clock.now()
    with sessions() as session, session.begin():
        row = session.get(VerifierRow, verifier_id, with_for_update=True)
        if row is None:
            raise InvalidRequest(f"no verifier {verifier_id} is registered", field="verifier")
        if row.state == VerifierState.SUSPENDED.value:
            return Suspension(Verifier.from_row(row), changed=False)
        row.state, row.suspended_at, row.suspended_by = (
            VerifierState.SUSPENDED.value, now, operator)
        _write_log(session, now, row.verifier_id, Event.SUSPENDED, LogOutcome.DONE,
                   operator=operator)
        return Suspension(Verifier.from_row(row), changed=True)


def reinstate(sessions: sessionmaker[Session], clock: Clock, verifier_id: int, *,
              operator: str) -> Suspension:
    """Lift a suspension: the verifier's key grants again (nothing new if it was active).
    A verifier suspended because its key leaked should get a new key instead (``rotate_key``),
    which also reinstates it."""
    operator = _operator(operator)
    now = clock.now()
    with sessions() as session, session.begin():
        row = _row(session, verifier_id)
        if row.state == VerifierState.ACTIVE.value:
            return Suspension(Verifier.from_row(row), changed=False)
        row.state, row.suspended_at, row.suspended_by = VerifierState.ACTIVE.value, None, None
        _write_log(session, now, row.verifier_id, Event.REINSTATED, LogOutcome.DONE,
                   operator=operator)
        return Suspension(Verifier.from_row(row), changed=True)


def rotate_key(sessions: sessionmaker[Session], clock: Clock, verifier_id: int, *,
               operator: str) -> Registration:
    """Give a verifier a new API key (shown once); the old one grants nothing from now on. A
    suspended verifier is reinstated with its new key."""
    operator = _operator(operator)
    key_id, api_key = _new_key()
    now = clock.now()
    with sessions() as session, session.begin():
        row = _row(session, verifier_id)
        row.key_id, row.key_hash = key_id, _digest(api_key)
        reinstated = row.state != VerifierState.ACTIVE.value
        row.state, row.suspended_at, row.suspended_by = VerifierState.ACTIVE.value, None, None
        _write_log(session, now, row.verifier_id, Event.KEY_ROTATED, LogOutcome.DONE,
                   operator=operator, detail="and reinstated" if reinstated else None)
        return Registration(Verifier.from_row(row), api_key)


def _row(session: Session, verifier_id: int) -> VerifierRow:
    row = session.get(VerifierRow, verifier_id, with_for_update=True)
    if row is None:
        raise InvalidRequest(f"no verifier {verifier_id} is registered", field="verifier")
    return row


def verifiers(sessions: sessionmaker[Session]) -> list[Verifier]:
    """Every registered verifier, in order of registration."""
    with sessions() as session:
        rows = session.scalars(select(VerifierRow).order_by(VerifierRow.verifier_id))
        return [Verifier.from_row(row) for row in rows]


def log_entries(sessions: sessionmaker[Session], verifier_id: int | None = None,
                limit: int = 1000) -> list[LogRecord]:
    """The newest ``limit`` entries of the verifier log (of one verifier), oldest first."""
    with sessions() as session:
        query = select(VerifierLogEntry).order_by(VerifierLogEntry.log_id.desc()).limit(limit)
        if verifier_id is not None:
            query = query.where(VerifierLogEntry.verifier_id == verifier_id)
        return [LogRecord.from_row(row) for row in reversed(session.scalars(query).all())]


def authenticate(sessions: sessionmaker[Session], clock: Clock, api_key: str) -> Verifier:
    """The verifier whose key this is (suspended ones too: callers decide what they may do).

    Raises ``VerifierUnauthorized`` for anything else; a wrong secret under a registered key id
    is logged against that verifier.
    """
    key = api_key.strip()
    found = _KEY.fullmatch(key) if len(key) <= MAX_KEY else None
    if found is None:
        raise VerifierUnauthorized("the API key is not a registered verifier's key")
    with sessions() as session:
        row = session.scalars(select(VerifierRow).where(
            VerifierRow.key_id == found.group(1))).first()
        stored = row.key_hash if row is not None else "0" * 64
    if hmac.compare_digest(stored, _digest(key)) and row is not None:
        return Verifier.from_row(row)
    if row is not None:
        with sessions() as session, session.begin():
            _write_log(session, clock.now(), row.verifier_id, Event.KEY_REFUSED,
                       LogOutcome.REFUSED, detail="wrong secret for this key id")
        log.warning("a wrong API key for verifier %s was refused", row.verifier_id)
    raise VerifierUnauthorized("the API key is not a registered verifier's key")


def record_report(sessions: sessionmaker[Session], clock: Clock, verifier: Verifier,
                  signers: Sequence[tuple[str | None, int]], *, included: bool) -> None:
    """Log a verification report asked for with ``verifier``'s key: one entry per signer
    certificate (issuer key id, serial) whose basic four it received (``included``), else one
    entry saying they were withheld."""
    now = clock.now()
    with sessions() as session, session.begin():
        if not included:
            why = "suspended" if not verifier.active else f"{verifier.kind.value} not entitled"
            _write_log(session, now, verifier.verifier_id, Event.REPORT, LogOutcome.WITHHELD,
                       detail=f"basic four withheld: {why}")
            return
        for signer in signers:
            _write_log(session, now, verifier.verifier_id, Event.REPORT, LogOutcome.PROVIDED,
                       certificate=signer, detail="basic four of the signing certificate")
        if not signers:
            _write_log(session, now, verifier.verifier_id, Event.REPORT, LogOutcome.DONE,
                       detail="no signer certificate in the report")


# -- the latest basic four -------------------------------------------------------------------------


@dataclass(frozen=True)
class HolderBasicFour:
    """A holder's current basic four, as the national server holds them."""

    name: str
    birth_date: str  # EYYYYMMDD (era digit, then the Gregorian date; 0 for an unknown era)
    sex: int  # 1 male, 2 female, 3 unknown
    address: str


class HolderRegister(Protocol):
    """The register side of the service: the national server's store and the holders' provision
    log (``jukibridge.provision``), implemented by the composition root."""

    def provide(self, verifier: str, resident_codes: Sequence[str]) -> HolderBasicFour | None:
        """The current basic four of the person who holds or held any of ``resident_codes``,
        logged in that person's provision log as given to ``verifier``; None (logged as not
        found under the first code) when the national server has no such person."""
        ...

    def refuse(self, verifier: str, resident_code: str, reason: str) -> None:
        """Log a refused request of ``verifier`` in the holder's provision log."""
        ...


@dataclass(frozen=True)
class LatestBasicFour:
    """The answer: which certificate, its revocation, and the holder's current basic four."""

    issuer: Issuer
    serial: int
    revoked_at: datetime
    reason: ReasonFlags
    basic_four: HolderBasicFour
    provided_at: datetime


class LatestBasicFourService:
    """最新の基本4情報の提供: a revoked signing certificate's holder's current basic four, for an
    active entitled verifier, with the holder's consent; every outcome logged."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock,
                 directory: CertificateDirectory, register: HolderRegister) -> None:
        self._sessions = sessions
        self._clock = clock
        self._directory = directory
        self._register = register

    def answer(self, verifier: Verifier, issuer: str, serial: int) -> LatestBasicFour:
        """Answer ``verifier`` about the certificate ``serial`` of ``issuer`` (a generation's
        name or key id).

        Raises ``UnknownIssuer`` / ``UnknownCertificate`` when there is no such certificate,
        ``NotPermitted`` for a suspended or non-entitled verifier or a holder who has not
        consented, and ``NotApplicable`` for a certificate that is not a revoked signing
        certificate (or a holder the national server does not know).
        """
        try:
            generation = find_issuer(self._directory, issuer)
        except RevocationError as exc:
            self._log(verifier, None, LogOutcome.REFUSED, exc.message)
            raise
        record = self._directory.find(generation.key_id, serial)
        if record is None:
            self._log(verifier, None, LogOutcome.REFUSED, "no such certificate")
            raise UnknownCertificate(f"{generation.name} issued no certificate with serial "
                                     f"{serial}")
        if not verifier.active:
            self._refuse(verifier, record, NotPermitted("the verifier is suspended"))
        if not verifier.kind.entitled:
            self._refuse(verifier, record, NotPermitted(
                f"a verifier of kind {verifier.kind.value} is not entitled to basic four"))
        code = record.resident_code
        if record.kind != CertKind.SIGNING.value or code is None:
            self._refuse(verifier, record, NotApplicable(
                "the certificate is not a signing certificate: it carries no basic four"))
        with self._sessions() as session:
            revocation = revocation_of(session, record.issuer_key_id, record.serial)
            consent = state_of(session, code)
            codes = sorted(linked_codes(session, code))
        if revocation is None:
            self._refuse(verifier, record, NotApplicable(
                "the certificate is not revoked: the basic four it carries are current"))
        if consent is not ConsentState.GIVEN:
            self._refuse(verifier, record, NotPermitted(
                "the holder has not consented to the provision of the latest basic four"))
        found = self._register.provide(verifier.name, [code, *(c for c in codes if c != code)])
        if found is None:
            self._log(verifier, record, LogOutcome.NOT_FOUND, "no identity info of the holder")
            raise NotApplicable("the national server holds no identity info of the holder")
        self._log(verifier, record, LogOutcome.PROVIDED, "latest basic four given")
        return LatestBasicFour(issuer=generation, serial=serial, revoked_at=revocation.revoked_at,
                               reason=revocation.reason, basic_four=found,
                               provided_at=self._clock.now())

    def _refuse(self, verifier: Verifier, record: CertificateRecord,
                refusal: RevocationError) -> NoReturn:
        """Log a refusal in the holder's provision log and the verifier log, then raise it."""
        if record.resident_code is not None:
            self._register.refuse(verifier.name, record.resident_code, refusal.message)
        self._log(verifier, record, LogOutcome.REFUSED, refusal.message)
        raise refusal

    def _log(self, verifier: Verifier, record: CertificateRecord | None, outcome: LogOutcome,
             detail: str) -> None:
        certificate = (record.issuer_key_id, record.serial) if record is not None else None
        with self._sessions() as session, session.begin():
            _write_log(session, self._clock.now(), verifier.verifier_id,
                       Event.LATEST_BASIC_FOUR, outcome, certificate=certificate, detail=detail)
