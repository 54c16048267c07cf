"""The certificate authority: key ceremony, generations and rollover, lint-then-sign issuance.

Two independent CAs, signing (``sign``) and user authentication (``auth``), each a line of
self-signed RSA-2048 roots (generations) sharing one DN. A rollover creates the next generation
and its two link certificates (RFC 4210 NewWithOld / OldWithNew).

Issuance, for every certificate: the intended certificate is built, given a throwaway
placeholder signature (``pki.lint``) and linted (pkilint + the JPKI profile checks); any ERROR or
FATAL finding refuses it. Then its random serial and TBS are stored (committed) *before* the
real signature, so a serial is never reused whatever happens next; then the CA key signs the
very same TBS and the certificate goes into the append-only issued store. Certificates issued
together (``issue_together``: a card's pair) take these steps as one: all linted, all intended
rows in one transaction, all issued rows in another, so a failure leaves none of them issued.
The two transactions go straight to the database driver (``ca.issuance_writes``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import Row, bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ca.errors import CaConflict, CaNotFound, IssuanceRefused
from ca.issuance_writes import IssuanceWrites
from ca.keystore import KeyStore
from ca.tables import (
    Base,
    CaGeneration,
    CaLinkCertificate,
    IssuedCertificate,
)
from pki import profile
from pki.clock import Clock
from pki.lint import (
    blocks_issuance,
    lint_certificate,
    sign_with_throwaway,
    throwaway_certificate,
)
from pki.profile import CertificateProfile, CertKind, Endpoints

ROOT_YEARS = 20
SERVICE_DAYS = 365  # the verification service's certificate: renewed each year, key kept
SERVICE_KIND = "service"  # the issued store's kind of the verification service's certificates
KINDS = (CertKind.SIGNING, CertKind.AUTHENTICATION)


@dataclass(frozen=True)
class Generation:
    """One CA generation as callers see it (no key material, only its label)."""

    kind: CertKind
    generation: int
    key_label: str
    key_id: str  # SKI, hex
    certificate: x509.Certificate

    @property
    def name(self) -> str:
        """``sign-1``, ``auth-2``: the name used in URLs (CRL partitions, CA certificates)."""
        return f"{self.kind.value}-{self.generation}"


@dataclass(frozen=True)
class Issued:
    serial: int
    certificate: x509.Certificate
    issuer: Generation


def _ski(certificate: x509.Certificate) -> str:
    return certificate.extensions.get_extension_for_class(
        x509.SubjectKeyIdentifier).value.digest.hex()


class CertificateAuthority:
    """The only holder of CA keys (through its ``KeyStore``)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, keys: KeyStore,
                 base_url: str, ocsp_url: str | None = None) -> None:
        self._sessions = sessions
        self._clock = clock
        self._keys = keys
        self.base_url = base_url.rstrip("/")
        self.ocsp_url = ocsp_url or f"{self.base_url}/ocsp"  # the responder certificates name
        self._generations = _GenerationCache()
        self._writes = IssuanceWrites(sessions)  # the two writes of every issuance
        # per kind, the newest generation as last seen by an issuance: only a first guess
        self._last_current: dict[CertKind, Generation] = {}

    # -- generations ---------------------------------------------------------------------------

    def generations(self, kind: CertKind) -> list[Generation]:
        with self._sessions() as session:
            rows = session.execute(_ALL_OF_KIND, {"kind": kind.value}).all()
        return [self._generations.get(row) for row in rows]

    def current(self, kind: CertKind) -> Generation:
        """The newest generation of ``kind``, read from the database on every call (another
        process may have rolled the CA over); only the parsed certificate is reused."""
        with self._sessions() as session:
            row = session.execute(_NEWEST_OF_KIND, {"kind": kind.value}).first()
        if row is None:
            raise CaNotFound(f"the {kind.value} CA has no key yet: run `jpki ca init`")
        return self._generations.get(row)

    def by_key_id(self, key_id: str) -> Generation:
        with self._sessions() as session:
            row = session.execute(_BY_KEY_ID, {"key_id": key_id}).first()
        if row is None:
            raise CaNotFound(f"no CA generation with key id {key_id}")
        return self._generations.get(row)

    def links(self, kind: CertKind) -> list[x509.Certificate]:
        with self._sessions() as session:
            rows = session.scalars(select(CaLinkCertificate).where(
                CaLinkCertificate.kind == kind.value).order_by(CaLinkCertificate.link_id)).all()
            return [x509.load_der_x509_certificate(row.certificate) for row in rows]

    def init(self) -> list[Generation]:
        """The key ceremony: the first generation of each CA that has none (idempotent)."""
        created = []
        for kind in KINDS:
            if not self.generations(kind):
                created.append(self._new_generation(kind, 1))
        return created

    def rollover(self, kind: CertKind) -> tuple[Generation, list[x509.Certificate]]:
        """A new generation of ``kind`` and its two link certificates with the previous one."""
        old = self.current(kind)
        new = self._new_generation(kind, old.generation + 1)
        now = self._now()
        not_after = min(old.certificate.not_valid_after_utc, new.certificate.not_valid_after_utc)
        new_with_old, old_with_new = self._sign_and_store([
            self._lint(profile.new_with_old(old.certificate,
                                            rsa_public(new.certificate.public_key()),
                                            serial=profile.random_serial(), not_before=now,
                                            not_after=not_after),
                       CertificateProfile.LINK, old, kind="link"),
            self._lint(profile.old_with_new(new.certificate,
                                            rsa_public(old.certificate.public_key()),
                                            serial=profile.random_serial(), not_before=now,
                                            not_after=not_after),
                       CertificateProfile.LINK, new, kind="link")])
        with self._sessions() as session, session.begin():
            for cert, subject, issuer in ((new_with_old, new, old), (old_with_new, old, new)):
                session.add(CaLinkCertificate(
                    kind=kind.value, subject_generation=subject.generation,
                    issuer_generation=issuer.generation, certificate=_der(cert),
                    created_at=self._clock.now()))
        return new, [new_with_old, old_with_new]

    def _new_generation(self, kind: CertKind, number: int) -> Generation:
        label = f"{kind.value}-ca-{number}"
        public_key = self._keys.create_key(label)
        now = self._now()
        builder = profile.root_certificate(kind, public_key, serial=profile.random_serial(),
                                           not_before=now,
                                           not_after=now + timedelta(days=365 * ROOT_YEARS))
        findings = lint_certificate(sign_with_throwaway(builder), CertificateProfile.ROOT)
        if blocks_issuance(findings):
            raise IssuanceRefused("the root certificate fails its lint: "
                                  + "; ".join(map(str, findings)))
        cert = profile.sign(builder, self._keys.signer(label))
        row = CaGeneration(kind=kind.value, generation=number, key_label=label,
                           key_id=_ski(cert), certificate=_der(cert),
                           not_before=cert.not_valid_before_utc,
                           not_after=cert.not_valid_after_utc, created_at=self._clock.now())
        try:
            with self._sessions() as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise CaConflict(f"generation {number} of the {kind.value} CA exists") from None
        self._last_current.pop(kind, None)
        return _generation(row.kind, row.generation, row.key_label, row.key_id, row.certificate)

    # -- issuance ------------------------------------------------------------------------------

    def endpoints(self, issuer: Generation, partition: str) -> Endpoints:
        """CRL partition of the issuing municipality, the OCSP responder, the CA certificate."""
        return Endpoints(crl_url=f"{self.base_url}/crl/{issuer.name}/{partition}.crl",
                         ocsp_url=self.ocsp_url,
                         ca_issuers_url=f"{self.base_url}/ca/{issuer.name}.cer")

    def issue(self, build: Callable[[Generation, int], x509.CertificateBuilder],
              lint_as: CertificateProfile, kind: CertKind, *, cert_kind: str,
              resident_code: str | None = None, card_id: str | None = None,
              partition: str | None = None) -> Issued:
        """Issue one certificate from the current generation of ``kind`` (see ``Request``)."""
        return self.issue_together([Request(build, lint_as, kind, cert_kind, resident_code,
                                            card_id, partition)])[0]

    def issue_together(self, requests: Sequence[Request]) -> list[Issued]:
        """Issue several certificates (a card's pair) as one: all or none recorded.

        Every certificate is built and linted first; any finding at ERROR or above refuses the
        whole lot before anything is stored. Then one transaction records every intended
        certificate and checks that each issuer is still the newest generation of its kind
        (another process may have rolled a CA over: the lot is then built again for the new
        generation). Then the real signatures, and one transaction stores every issued one.
        """
        issuers = {r.kind: self._last_current.get(r.kind) or self.current(r.kind)
                   for r in requests}
        for _ in range(5):
            linted = [self._lint(r.build(issuers[r.kind], profile.random_serial()), r.lint_as,
                                 issuers[r.kind], kind=r.cert_kind,
                                 resident_code=r.resident_code, card_id=r.card_id,
                                 partition=r.partition)
                      for r in requests]
            try:
                certs = self._sign_and_store(linted, current_of={r.kind for r in requests})
            except _SerialTaken:
                continue
            except _NotCurrent as rolled_over:
                issuers[rolled_over.current.kind] = rolled_over.current
                continue
            return [Issued(serial=cert.serial_number, certificate=cert, issuer=one.issuer)
                    for one, cert in zip(linted, certs, strict=True)]
        raise IssuanceRefused("could not draw an unused serial")  # 2^64: practically never

    def _lint(self, builder: x509.CertificateBuilder, lint_as: CertificateProfile,
              issuer: Generation, *, kind: str, resident_code: str | None = None,
              card_id: str | None = None, partition: str | None = None) -> _Linted:
        """The intended certificate with a throwaway signature, linted; refused on any finding
        at ERROR or above."""
        trial = throwaway_certificate(builder)
        findings = lint_certificate(_der(trial), lint_as, parsed=trial)
        if blocks_issuance(findings):
            raise IssuanceRefused("the certificate fails its lint: "
                                  + "; ".join(str(f) for f in findings if f.blocks_issuance),
                                  findings=[f.code for f in findings])
        return _Linted(issuer, builder, trial, {
            "issuer_key_id": issuer.key_id, "serial": str(trial.serial_number), "kind": kind,
            "resident_code": resident_code, "card_id": card_id, "partition": partition})

    def _sign_and_store(self, linted: Sequence[_Linted], *,
                        current_of: Iterable[CertKind] = ()) -> list[x509.Certificate]:
        """Record the intended certificates (one transaction), sign each for real, store the
        issued ones (one transaction).

        For each kind in ``current_of``, the issuers of that kind must be its newest generation
        when the intended certificates are recorded (``_NotCurrent`` otherwise, nothing
        recorded); a serial already used gives ``_SerialTaken``, nothing recorded.
        """
        try:
            self._record_intended(linted, set(current_of))
        except IntegrityError:
            raise _SerialTaken from None
        certs = []
        for one in linted:
            cert = profile.sign(one.builder, self._keys.signer(one.issuer.key_label))
            if cert.tbs_certificate_bytes != one.trial.tbs_certificate_bytes:
                raise IssuanceRefused("the signed certificate differs from the linted one")
            certs.append(cert)
        issued_at = self._clock.now()
        self._writes.store_issued([
            {**one.row, "not_before": cert.not_valid_before_utc,
             "not_after": cert.not_valid_after_utc, "certificate": _der(cert),
             "issued_at": issued_at}
            for one, cert in zip(linted, certs, strict=True)])
        return certs

    def _record_intended(self, linted: Sequence[_Linted], current_of: set[CertKind]) -> None:
        """The intended certificates' rows, committed together; in the same transaction, the
        check that the issuers of each kind in ``current_of`` are still its newest generation
        (``_NotCurrent``, nothing recorded, if not)."""
        now = self._clock.now()
        rows = [{**one.row, "tbs_certificate": one.trial.tbs_certificate_bytes, "created_at": now}
                for one in linted]
        expected = {one.issuer.kind.value: one.issuer.key_id
                    for one in linted if one.issuer.kind in current_of}
        newest = self._writes.record_intended(rows, expected)
        if newest is None:
            for one in linted:
                if one.issuer.kind in current_of:
                    self._last_current[one.issuer.kind] = one.issuer
            return
        for kind in current_of:
            if kind.value not in newest:
                raise CaNotFound(f"the {kind.value} CA has no key any more")
        for one in linted:
            kind = one.issuer.kind
            if kind in current_of and newest[kind.value] != one.issuer.key_id:
                with self._sessions() as session:
                    row = session.execute(_NEWEST_OF_KIND, {"kind": kind.value}).one()
                current = self._last_current[kind] = self._generations.get(row)
                raise _NotCurrent(current)

    def service_certificate(self, public_key: rsa.RSAPublicKey, *,
                            min_remaining: timedelta = timedelta(days=1)) -> x509.Certificate:
        """The verification service's certificate for ``public_key`` (it signs receipts).

        An issued one from the current signing generation that stays valid at least
        ``min_remaining`` longer, else a new one (lint, then sign, like any other), valid for
        ``SERVICE_DAYS`` within the CA's own validity.
        """
        issuer = self.current(CertKind.SIGNING)
        limit = self._clock.now() + min_remaining
        with self._sessions() as session:
            rows = session.scalars(select(IssuedCertificate).where(
                IssuedCertificate.issuer_key_id == issuer.key_id,
                IssuedCertificate.kind == SERVICE_KIND, IssuedCertificate.not_after > limit)
                .order_by(IssuedCertificate.issued_id.desc())).all()
        for row in rows:
            existing = x509.load_der_x509_certificate(row.certificate)
            if existing.public_key() == public_key:
                return existing
        now = self._now()
        return self.issue(
            lambda generation, serial: profile.verification_service_certificate(
                generation.certificate, public_key, serial=serial, not_before=now,
                not_after=min(now + timedelta(days=SERVICE_DAYS),
                              generation.certificate.not_valid_after_utc),
                endpoints=self.endpoints(generation, "full")),
            CertificateProfile.VERIFICATION_SERVICE, CertKind.SIGNING,
            cert_kind=SERVICE_KIND).certificate

    def issued(self, *, resident_code: str | None = None, card_id: str | None = None
               ) -> list[x509.Certificate]:
        """Issued certificates of a holder or a card, oldest first."""
        with self._sessions() as session:
            query = select(IssuedCertificate).order_by(IssuedCertificate.issued_id)
            if resident_code is not None:
                query = query.where(IssuedCertificate.resident_code == resident_code)
            if card_id is not None:
                query = query.where(IssuedCertificate.card_id == card_id)
            return [x509.load_der_x509_certificate(r.certificate)
                    for r in session.scalars(query)]

    def _now(self) -> datetime:
        return self._clock.now().replace(microsecond=0)


@dataclass(frozen=True)
class Request:
    """One certificate to issue from the current generation of ``kind``.

    ``build(issuer, serial)`` returns the intended certificate's builder; it may be called
    again (for another serial, or another generation after a rollover).
    """

    build: Callable[[Generation, int], x509.CertificateBuilder]
    lint_as: CertificateProfile
    kind: CertKind
    cert_kind: str  # the issued store's kind: sign, auth, ocsp, service
    resident_code: str | None = None
    card_id: str | None = None
    partition: str | None = None


@dataclass(frozen=True)
class _Linted:
    """A built certificate that passed its lint, with the columns of its stored rows."""

    issuer: Generation
    builder: x509.CertificateBuilder
    trial: x509.Certificate  # with the throwaway signature: its TBS is the one to sign
    row: dict[str, object]


class _SerialTaken(Exception):
    pass


class _NotCurrent(Exception):
    """The issuer is no longer the newest generation: the CA was rolled over."""

    def __init__(self, current: Generation) -> None:
        super().__init__(f"{current.name} is now the current generation")
        self.current = current


# Core statements on the tables (no ORM entities), built once: building and cache-keying a
# statement, or going through the ORM, costs more than running it on SQLite.
_GENERATIONS = Base.metadata.tables[CaGeneration.__tablename__].c
_GENERATION_COLUMNS = select(_GENERATIONS.kind, _GENERATIONS.generation, _GENERATIONS.key_label,
                             _GENERATIONS.key_id, _GENERATIONS.certificate)
_ALL_OF_KIND = _GENERATION_COLUMNS.where(_GENERATIONS.kind == bindparam("kind")).order_by(
    _GENERATIONS.generation)
_NEWEST_OF_KIND = _GENERATION_COLUMNS.where(_GENERATIONS.kind == bindparam("kind")).order_by(
    _GENERATIONS.generation.desc()).limit(1)
_BY_KEY_ID = _GENERATION_COLUMNS.where(_GENERATIONS.key_id == bindparam("key_id"))
_GenerationRow = tuple[str, int, str, str, bytes]  # the columns of _GENERATION_COLUMNS


class _GenerationCache:
    """``Generation``s by their full row: a row read again is not parsed again.

    Keyed by every column read, certificate bytes included, so a cached value is exactly what
    parsing that row would give (generations are never updated, but this does not rely on it).
    """

    LIMIT = 64

    def __init__(self) -> None:
        self._by_row: dict[_GenerationRow, Generation] = {}

    def get(self, row: Row[str, int, str, str, bytes]) -> Generation:
        kind, number, key_label, key_id, certificate = row
        key = (kind, number, key_label, key_id, certificate)
        generation = self._by_row.get(key)
        if generation is None:
            if len(self._by_row) >= self.LIMIT:
                self._by_row.clear()
            generation = self._by_row[key] = _generation(*key)
        return generation


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _generation(kind: str, generation: int, key_label: str, key_id: str,
                certificate: bytes) -> Generation:
    return Generation(kind=CertKind(kind), generation=generation, key_label=key_label,
                      key_id=key_id, certificate=x509.load_der_x509_certificate(certificate))


def rsa_public(key: object) -> rsa.RSAPublicKey:
    """The key as an RSA public key (CA and card keys are RSA-2048)."""
    if not isinstance(key, rsa.RSAPublicKey):
        raise IssuanceRefused("only RSA keys are certified")
    return key
