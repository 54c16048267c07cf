"""The certificate authority: key ceremony, generations and rollover, lint-then-sign issuance.

Two independent CAs, signing (``sign``) and user authentication (``auth``), each a line of
self-signed RSA-2048 roots (generations) sharing one DN. A rollover creates the next generation
and its two link certificates (RFC 4210 NewWithOld / OldWithNew).

Issuance, for every certificate: the intended certificate is built, signed with a throwaway key
and linted (pkilint + the JPKI profile checks); any ERROR or FATAL finding refuses it. Then its
random serial and TBS are stored (committed) *before* the real signature, so a serial is never
reused whatever happens next; then the CA key signs the very same TBS and the certificate goes
into the append-only issued store.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ca.errors import CaConflict, CaNotFound, IssuanceRefused
from ca.keystore import KeyStore
from ca.tables import CaGeneration, CaLinkCertificate, IntendedCertificate, IssuedCertificate
from pki import profile
from pki.clock import Clock
from pki.lint import blocks_issuance, lint_certificate, sign_with_throwaway
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
                 base_url: str) -> None:
        self._sessions = sessions
        self._clock = clock
        self._keys = keys
        self.base_url = base_url.rstrip("/")

    # -- generations ---------------------------------------------------------------------------

    def generations(self, kind: CertKind) -> list[Generation]:
        with self._sessions() as session:
            rows = session.scalars(select(CaGeneration).where(CaGeneration.kind == kind.value)
                                   .order_by(CaGeneration.generation)).all()
            return [_generation(row) for row in rows]

    def current(self, kind: CertKind) -> Generation:
        generations = self.generations(kind)
        if not generations:
            raise CaNotFound(f"the {kind.value} CA has no key yet: run `jpki ca init`")
        return generations[-1]

    def by_key_id(self, key_id: str) -> Generation:
        with self._sessions() as session:
            row = session.scalars(select(CaGeneration).where(CaGeneration.key_id == key_id)).first()
            if row is None:
                raise CaNotFound(f"no CA generation with key id {key_id}")
            return _generation(row)

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
        new_with_old = self._sign(
            profile.new_with_old(old.certificate, rsa_public(new.certificate.public_key()),
                                 serial=profile.random_serial(), not_before=now,
                                 not_after=not_after),
            CertificateProfile.LINK, old, kind="link")
        old_with_new = self._sign(
            profile.old_with_new(new.certificate, rsa_public(old.certificate.public_key()),
                                 serial=profile.random_serial(), not_before=now,
                                 not_after=not_after),
            CertificateProfile.LINK, new, kind="link")
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
        return _generation(row)

    # -- issuance ------------------------------------------------------------------------------

    def endpoints(self, issuer: Generation, partition: str) -> Endpoints:
        """CRL partition of the issuing municipality, the OCSP responder, the CA certificate."""
        return Endpoints(crl_url=f"{self.base_url}/crl/{issuer.name}/{partition}.crl",
                         ocsp_url=f"{self.base_url}/ocsp",
                         ca_issuers_url=f"{self.base_url}/ca/{issuer.name}.cer")

    def issue(self, build: Callable[[Generation, int], x509.CertificateBuilder],
              lint_as: CertificateProfile, kind: CertKind, *, cert_kind: str,
              resident_code: str | None = None, card_id: str | None = None,
              partition: str | None = None) -> Issued:
        """Issue one certificate from the current generation of ``kind``.

        ``build(issuer, serial)`` returns the intended certificate's builder.
        """
        issuer = self.current(kind)
        for _ in range(5):
            serial = profile.random_serial()
            builder = build(issuer, serial)
            try:
                cert = self._sign(builder, lint_as, issuer, kind=cert_kind,
                                  resident_code=resident_code, card_id=card_id,
                                  partition=partition)
            except _SerialTaken:
                continue
            return Issued(serial=serial, certificate=cert, issuer=issuer)
        raise IssuanceRefused("could not draw an unused serial")  # 2^64: practically never

    def _sign(self, builder: x509.CertificateBuilder, lint_as: CertificateProfile,
              issuer: Generation, *, kind: str, resident_code: str | None = None,
              card_id: str | None = None, partition: str | None = None) -> x509.Certificate:
        """Lint, record the intended certificate, sign for real, store the issued one."""
        trial = x509.load_der_x509_certificate(sign_with_throwaway(builder))
        findings = lint_certificate(_der(trial), lint_as)
        if blocks_issuance(findings):
            raise IssuanceRefused("the certificate fails its lint: "
                                  + "; ".join(str(f) for f in findings if f.blocks_issuance),
                                  findings=[f.code for f in findings])
        serial = str(trial.serial_number)
        try:
            with self._sessions() as session, session.begin():
                session.add(IntendedCertificate(
                    issuer_key_id=issuer.key_id, serial=serial, kind=kind,
                    resident_code=resident_code, card_id=card_id, partition=partition,
                    tbs_certificate=trial.tbs_certificate_bytes, created_at=self._clock.now()))
        except IntegrityError:
            raise _SerialTaken from None
        cert = profile.sign(builder, self._keys.signer(issuer.key_label))
        if cert.tbs_certificate_bytes != trial.tbs_certificate_bytes:
            raise IssuanceRefused("the signed certificate differs from the linted one")
        with self._sessions() as session, session.begin():
            session.add(IssuedCertificate(
                issuer_key_id=issuer.key_id, serial=serial, kind=kind,
                resident_code=resident_code, card_id=card_id, partition=partition,
                not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc,
                certificate=_der(cert), issued_at=self._clock.now()))
        return cert

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


class _SerialTaken(Exception):
    pass


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


def _generation(row: CaGeneration) -> Generation:
    return Generation(kind=CertKind(row.kind), generation=row.generation,
                      key_label=row.key_label, key_id=row.key_id,
                      certificate=x509.load_der_x509_certificate(row.certificate))


def rsa_public(key: object) -> rsa.RSAPublicKey:
    """The key as an RSA public key (CA and card keys are RSA-2048)."""
    if not isinstance(key, rsa.RSAPublicKey):
        raise IssuanceRefused("only RSA keys are certified")
    return key
