"""The revocation service's ports, implemented over the CA and the national server's feed.

``revocation`` imports neither ``ca`` nor ``jukibridge``; this composition root adapts them:

- ``CaDirectory``: the CA's append-only issued store and its generations;
- ``CaSigners``: CRLs signed by each generation's key through the key store, and a delegated
  OCSP responder per current generation (its key in the key store under ``<gen>-ocsp``, its
  certificate issued by the CA once and found again in the issued store afterwards);
- ``JukiFeed``: the national server's revocation-notice feed;
- ``JukiHolderRegister``: for the latest-basic-four service of registered verifiers, the
  national server's store and the holders' provision log (``jukibridge.provision``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ca.authority import CertificateAuthority
from ca.errors import KeyStoreError
from ca.keystore import KeyStore
from ca.tables import IssuedCertificate
from jukibridge import notices, provision
from pki import profile
from pki.clock import Clock
from pki.profile import CertificateProfile, CertKind
from revocation.crl import CrlPublisher
from revocation.ocsp import OcspResponder
from revocation.ports import CertificateRecord, Issuer, Notice, NoticeKind, Responder
from revocation.service import NoticeConsumer, RevocationService
from revocation.verifiers import HolderBasicFour, LatestBasicFourService

RESPONDER_DAYS = 365


class CaDirectory:
    """``CertificateDirectory`` over the CA's issued store."""

    def __init__(self, ca: CertificateAuthority, sessions: sessionmaker[Session]) -> None:
        self.ca = ca
        self.sessions = sessions

    def issuers(self) -> list[Issuer]:
        return [Issuer(g.name, g.kind, g.key_id, g.certificate)
                for kind in CertKind for g in self.ca.generations(kind)]

    def _records(self, *where: Any) -> list[CertificateRecord]:
        with self.sessions() as session:
            rows = session.scalars(select(IssuedCertificate).where(*where)
                                   .order_by(IssuedCertificate.issued_id))
            return [CertificateRecord(r.issuer_key_id, int(r.serial), r.kind, r.resident_code,
                                      r.card_id, r.partition, r.not_before, r.not_after)
                    for r in rows]

    def by_holder(self, resident_codes: Collection[str]) -> list[CertificateRecord]:
        if not resident_codes:
            return []
        return self._records(IssuedCertificate.resident_code.in_(list(resident_codes)))

    def by_card(self, card_id: str) -> list[CertificateRecord]:
        return self._records(IssuedCertificate.card_id == card_id)

    def find(self, issuer_key_id: str, serial: int) -> CertificateRecord | None:
        found = self._records(IssuedCertificate.issuer_key_id == issuer_key_id,
                              IssuedCertificate.serial == str(serial))
        return found[0] if found else None

    def by_issuer(self, issuer_key_id: str) -> Iterable[CertificateRecord]:
        return self._records(IssuedCertificate.issuer_key_id == issuer_key_id)


class CaSigners:
    """``CrlSigners`` and ``OcspResponders`` over the CA's key store."""

    def __init__(self, ca: CertificateAuthority, keys: KeyStore, sessions: sessionmaker[Session],
                 clock: Clock) -> None:
        self.ca = ca
        self.keys = keys
        self.sessions = sessions
        self.clock = clock
        self._responders: dict[str, Responder] = {}

    def crl_signer(self, issuer_key_id: str) -> rsa.RSAPrivateKey:
        return self.keys.signer(self.ca.by_key_id(issuer_key_id).key_label)

    def responder(self, issuer_key_id: str) -> Responder | None:
        cached = self._responders.get(issuer_key_id)
        if cached is not None and cached.certificate.not_valid_after_utc > self.clock.now():
            return cached
        generation = self.ca.by_key_id(issuer_key_id)
        if generation != self.ca.current(generation.kind):
            return None  # the CA issues from its current generation only
        label = f"{generation.name}-ocsp"
        try:
            public_key = self.keys.public_key(label)
        except KeyStoreError:
            public_key = self.keys.create_key(label)
        certificate = self._existing(issuer_key_id, public_key) or self._issue(
            generation.kind, public_key)
        responder = Responder(certificate, self.keys.signer(label))
        self._responders[issuer_key_id] = responder
        return responder

    def _existing(self, issuer_key_id: str, public_key: rsa.RSAPublicKey
                  ) -> x509.Certificate | None:
        now = self.clock.now() + timedelta(days=1)
        with self.sessions() as session:
            rows = session.scalars(select(IssuedCertificate).where(
                IssuedCertificate.issuer_key_id == issuer_key_id,
                IssuedCertificate.kind == "ocsp", IssuedCertificate.not_after > now)
                .order_by(IssuedCertificate.issued_id.desc())).all()
        for row in rows:
            certificate = x509.load_der_x509_certificate(row.certificate)
            if certificate.public_key() == public_key:
                return certificate
        return None

    def _issue(self, kind: CertKind, public_key: rsa.RSAPublicKey) -> x509.Certificate:
        now = self.clock.now().replace(microsecond=0)
        issued = self.ca.issue(
            lambda issuer, serial: profile.ocsp_responder_certificate(
                issuer.certificate, public_key, serial=serial, not_before=now,
                not_after=min(now + timedelta(days=RESPONDER_DAYS),
                              issuer.certificate.not_valid_after_utc)),
            CertificateProfile.OCSP_RESPONDER, kind, cert_kind="ocsp")
        return issued.certificate


class JukiFeed:
    """``NoticeFeed`` over the national server's feed (``jukibridge.notices``)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self.sessions = sessions

    def read(self, after_seq: int, limit: int) -> list[Notice]:
        with self.sessions() as session:
            return [Notice(seq=n.seq, notice_id=n.notice_id, kind=NoticeKind(n.kind.value),
                           resident_code=n.resident_code,
                           previous_resident_code=n.previous_resident_code,
                           municipality_code=n.municipality_code,
                           change_reason=n.change_reason, effective_on=n.effective_on,
                           created_at=n.created_at)
                    for n in notices.read(session, after_seq, limit)]


class JukiHolderRegister:
    """``HolderRegister`` over the national server's store and the provision log: each answer
    or refusal is logged where the holder's disclosure (提供状況の開示) reads it."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self.sessions = sessions
        self.clock = clock

    def provide(self, verifier: str, resident_codes: Sequence[str]) -> HolderBasicFour | None:
        with self.sessions() as session, session.begin():
            found = provision.current_basic_four(session, resident_codes)
            if found is None:
                provision.log_verifier_request(
                    session, self.clock, verifier=verifier, resident_code=resident_codes[0],
                    outcome=provision.Outcome.NOT_FOUND, reason="no identity info")
                return None
            provision.log_verifier_request(
                session, self.clock, verifier=verifier, resident_code=found.resident_code,
                outcome=provision.Outcome.PROVIDED, fields=provision.BASIC_FOUR_ITEMS)
            return HolderBasicFour(name=found.name, birth_date=found.birth_date, sex=found.sex,
                                   address=found.address)

    def refuse(self, verifier: str, resident_code: str, reason: str) -> None:
        with self.sessions() as session, session.begin():
            provision.log_verifier_request(session, self.clock, verifier=verifier,
                                           resident_code=resident_code,
                                           outcome=provision.Outcome.REFUSED, reason=reason)


@dataclass
class RevocationSide:
    """The revocation service, its notice consumer, CRL publisher and OCSP responder, wired."""

    directory: CaDirectory
    service: RevocationService
    consumer: NoticeConsumer
    crls: CrlPublisher
    ocsp: OcspResponder
    latest_basic_four: LatestBasicFourService

    @classmethod
    def build(cls, ca: CertificateAuthority, keys: KeyStore, sessions: sessionmaker[Session],
              clock: Clock, base_url: str) -> RevocationSide:
        directory = CaDirectory(ca, sessions)
        signers = CaSigners(ca, keys, sessions, clock)
        ocsp = OcspResponder(sessions, clock, directory, signers)
        crls = CrlPublisher(sessions, clock, directory, signers, base_url)
        listeners = [ocsp.on_revoked]
        return cls(directory=directory,
                   service=RevocationService(sessions, clock, directory, listeners),
                   consumer=NoticeConsumer(sessions, clock, JukiFeed(sessions), directory,
                                           listeners=listeners),
                   crls=crls, ocsp=ocsp,
                   latest_basic_four=LatestBasicFourService(
                       sessions, clock, directory, JukiHolderRegister(sessions, clock)))

    def run_once(self, batch: int = 500) -> int:
        """One round of the revocation worker: notices in (``batch`` per transaction), CRLs and
        OCSP responses out."""
        applied = self.consumer.drain(batch)
        self.crls.publish_due()
        self.ocsp.refresh_due()
        return applied
