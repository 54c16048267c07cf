"""The revocation service: rules, revocations, the notice consumer, CRLs and OCSP.

The ports of ``revocation`` are implemented here over a real CA (``ca.authority``) and, for one
test, over the real notice feed of the tiers: the composition root will do the same.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import NoDigestInfo, Prehashed
from cryptography.x509 import ocsp
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from ca.authority import CertificateAuthority, Issued
from ca.enrolment import CertificatePair, Holder, issue_pair
from ca.keystore import FileKeyStore
from jukibridge import workers
from jukibridge.change_requests import Relocation
from jukibridge.register import Register
from pki import profile
from pki.clock import FrozenClock
from pki.eras import PartialDate
from pki.profile import CertificateProfile, CertKind
from revocation import crl as crls
from revocation import service as service_module
from revocation.crl import FULL, CrlPublisher, Entry, build_crl, crl_extensions
from revocation.errors import InvalidRequest, UnknownCertificate
from revocation.ocsp import OcspResponder, cert_id
from revocation.ports import (
    Issuer,
    Notice,
    NoticeKind,
    Responder,
)
from revocation.rules import RULES, Cause, Scope
from revocation.service import (
    CertRef,
    CertStatus,
    NoticeConsumer,
    RevocationService,
    start_of_day_jst,
)
from revocation.tables import RevocationCursor, RevocationEntry
from tests.conftest import MUNICIPALITY
from tests.debian import tool
from tests.storage.helpers import arrive
from web.revocation_wiring import CaDirectory, JukiFeed

BASE = "http://127.0.0.1:8000"
HIRATSUKA = "142034"
CODES = ("24727059608", "24846016224", "30000000015", "30000000023", "30000000031")


# -- the ports, over the CA and the register (what the composition root will do) -------------------


class ForwardingSigner(rsa.RSAPrivateKey):
    """Stands for an HSM key: ``cryptography``'s builders may call only ``sign()``."""

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key
        self.calls = 0

    def sign(self, data: bytes, padding: padding.AsymmetricPadding,
             algorithm: Prehashed | hashes.HashAlgorithm | NoDigestInfo) -> bytes:
        self.calls += 1
        return self._key.sign(data, padding, algorithm)

    @property
    def key_size(self) -> int:
        return self._key.key_size

    def public_key(self) -> rsa.RSAPublicKey:
        return self._key.public_key()

    def decrypt(self, ciphertext: bytes, padding: padding.AsymmetricPadding) -> bytes:
        self._refuse()

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        self._refuse()

    def private_bytes(self, encoding: serialization.Encoding,
                      format: serialization.PrivateFormat,
                      encryption_algorithm: serialization.KeySerializationEncryption) -> bytes:
        self._refuse()

    def __copy__(self) -> ForwardingSigner:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> ForwardingSigner:
        return self

    def _refuse(self) -> NoReturn:
        raise AssertionError("only sign() may be called")


class CaSigners:
    """``CrlSigners`` and ``OcspResponders`` over the CA's key store (HSM-like signers)."""

    def __init__(self, ca: CertificateAuthority, keys: FileKeyStore, clock: FrozenClock,
                 responder_key: rsa.RSAPrivateKey) -> None:
        self.ca = ca
        self.keys = keys
        self.clock = clock
        self.responder_key = ForwardingSigner(responder_key)
        self.crl_signers: dict[str, ForwardingSigner] = {}
        self.responders: dict[str, Responder] = {}

    def crl_signer(self, issuer_key_id: str) -> rsa.RSAPrivateKey:
        if issuer_key_id not in self.crl_signers:
            label = self.ca.by_key_id(issuer_key_id).key_label
            self.crl_signers[issuer_key_id] = ForwardingSigner(self.keys.signer(label))
        return self.crl_signers[issuer_key_id]

    def responder(self, issuer_key_id: str) -> Responder | None:
        if issuer_key_id not in self.responders:
            generation = self.ca.by_key_id(issuer_key_id)
            if generation != self.ca.current(generation.kind):
                return None
            now = self.clock.now().replace(microsecond=0)
            issued = self.ca.issue(
                lambda issuer, serial: profile.ocsp_responder_certificate(
                    issuer.certificate, self.responder_key.public_key(), serial=serial,
                    not_before=now, not_after=now + timedelta(days=365)),
                CertificateProfile.OCSP_RESPONDER, generation.kind, cert_kind="ocsp")
            self.responders[issuer_key_id] = Responder(issued.certificate, self.responder_key)
        return self.responders[issuer_key_id]


class ListFeed:
    """A ``NoticeFeed`` of hand-made notices."""

    def __init__(self) -> None:
        self.notices: list[Notice] = []

    def add(self, kind: NoticeKind, code: str, created_at: datetime, *,
            previous: str | None = None, effective_on: date | None = None) -> Notice:
        notice = Notice(seq=len(self.notices) + 1, notice_id=str(uuid.uuid4()), kind=kind,
                        resident_code=code, previous_resident_code=previous,
                        municipality_code=MUNICIPALITY, change_reason="TEST",
                        effective_on=effective_on or created_at.date(), created_at=created_at)
        self.notices.append(notice)
        return notice

    def read(self, after_seq: int, limit: int) -> list[Notice]:
        return [n for n in self.notices if n.seq > after_seq][:limit]


# -- fixtures --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys() -> dict[str, rsa.RSAPrivateKey]:
    """Stand-ins for the card keys and the responder's key."""
    return {name: rsa.generate_private_key(public_exponent=65537, key_size=2048)
            for name in ("sign", "auth", "responder")}


@dataclass
class World:
    ca: CertificateAuthority
    clock: FrozenClock
    sessions: sessionmaker[Session]
    directory: CaDirectory
    signers: CaSigners
    feed: ListFeed
    service: RevocationService
    consumer: NoticeConsumer
    crls: CrlPublisher
    ocsp: OcspResponder
    keys: dict[str, rsa.RSAPrivateKey]

    def issue(self, code: str, card_id: str, municipality: str = MUNICIPALITY
              ) -> CertificatePair:
        holder = Holder(resident_code=code, name="山田　花子", sex=2,
                        birth_date=PartialDate.parse("1990-05-03"),
                        address="埼玉県所沢市並木三丁目1番1号", municipality_code=municipality,
                        prefecture="埼玉県", municipality="所沢市", active=True)
        return issue_pair(self.ca, holder, card_id=card_id,
                          signing_key=self.keys["sign"].public_key(),
                          auth_key=self.keys["auth"].public_key(), issued_at=self.clock.now())

    def generation(self, kind: CertKind = CertKind.SIGNING) -> Issuer:
        g = self.ca.current(kind)
        return Issuer(g.name, g.kind, g.key_id, g.certificate)


def _rsa(certificate: x509.Certificate) -> rsa.RSAPublicKey:
    key = certificate.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    return key


def ref(issued: Issued | None) -> CertRef:
    assert issued is not None
    return CertRef(issued.issuer.key_id, issued.serial)


def signing(pair: CertificatePair) -> Issued:
    assert pair.signing is not None
    return pair.signing


@pytest.fixture
def world(sessions: sessionmaker[Session], clock: FrozenClock, tmp_path: Path,
          keys: dict[str, rsa.RSAPrivateKey]) -> World:
    store = FileKeyStore(tmp_path / "ca-keys", b"test passphrase, not a secret")
    ca = CertificateAuthority(sessions, clock, store, BASE)
    ca.init()
    directory = CaDirectory(ca, sessions)
    signers = CaSigners(ca, store, clock, keys["responder"])
    feed = ListFeed()
    responder = OcspResponder(sessions, clock, directory, signers)
    service = RevocationService(sessions, clock, directory, listeners=[responder.on_revoked])
    consumer = NoticeConsumer(sessions, clock, feed, directory,
                              listeners=[responder.on_revoked])
    publisher = CrlPublisher(sessions, clock, directory, signers, BASE)
    return World(ca, clock, sessions, directory, signers, feed, service, consumer, publisher,
                 responder, keys)


def entries(sessions: sessionmaker[Session]) -> list[RevocationEntry]:
    with sessions() as session:
        return list(session.scalars(select(RevocationEntry)
                                    .order_by(RevocationEntry.revocation_id)))


# -- the rule table --------------------------------------------------------------------------------


def test_the_rule_table_is_the_issues() -> None:
    reasons = x509.ReasonFlags
    assert {cause: (rule.scope, rule.reason) for cause, rule in RULES.items()} == {
        Cause.BASIC_FOUR_CHANGED: (Scope.SIGNING, reasons.affiliation_changed),
        Cause.RECORD_REMOVED: (Scope.BOTH, reasons.cessation_of_operation),
        Cause.RESIDENT_CODE_CHANGED: (Scope.NONE, None),
        Cause.HOLDER_REQUEST: (Scope.CHOSEN, reasons.unspecified),
        Cause.KEY_COMPROMISE: (Scope.CHOSEN, reasons.key_compromise),
        Cause.CARD_LOST: (Scope.CARD, reasons.certificate_hold),
        Cause.RENEWAL: (Scope.REPLACED, reasons.superseded),
        Cause.CA_COMPROMISE: (Scope.GENERATION, reasons.ca_compromise),
    }


# -- notices ---------------------------------------------------------------------------------------


def test_a_basic_four_change_revokes_the_signing_certificates_issued_before_it(
        world: World, clock: FrozenClock) -> None:
    before = world.issue(CODES[0], "card-1")
    clock.advance(timedelta(days=2))
    notice = world.feed.add(NoticeKind.BASIC_FOUR_CHANGED, CODES[0], clock.now(),
                            effective_on=date(2026, 4, 2))
    clock.advance(timedelta(minutes=5))
    after = world.issue(CODES[0], "card-2")  # the CA read the new basic four
    batch = world.consumer.run_once()
    assert (batch.read, batch.applied, batch.skipped) == (1, 1, 0)
    (revoked,) = batch.revoked
    assert revoked.ref == ref(before.signing)
    assert revoked.reason is x509.ReasonFlags.affiliation_changed
    assert (revoked.cause, revoked.cause_ref) == (Cause.BASIC_FOUR_CHANGED, notice.notice_id)
    assert revoked.revoked_at == clock.now()
    assert revoked.invalidity_date == start_of_day_jst(date(2026, 4, 2)) == datetime(
        2026, 4, 1, 15, tzinfo=UTC)
    assert revoked.partition == MUNICIPALITY and revoked.resident_code == CODES[0]
    for issued, state in ((before.signing, CertStatus.REVOKED),
                          (before.authentication, CertStatus.GOOD),
                          (after.signing, CertStatus.GOOD),
                          (after.authentication, CertStatus.GOOD)):
        assert world.service.status(*_key(issued)).state is state
    assert world.consumer.position() == 1


def _key(issued: Issued | None) -> tuple[str, int]:
    r = ref(issued)
    return r.issuer_key_id, r.serial


def test_a_removed_record_revokes_both_and_an_expired_certificate_is_left_alone(
        world: World, clock: FrozenClock) -> None:
    pair = world.issue(CODES[0], "card-1")
    clock.advance(timedelta(hours=1))
    world.feed.add(NoticeKind.RECORD_REMOVED, CODES[0], clock.now())
    (batch_revoked) = world.consumer.run_once().revoked
    assert {r.ref for r in batch_revoked} == {ref(pair.signing), ref(pair.authentication)}
    assert {r.reason for r in batch_revoked} == {x509.ReasonFlags.cessation_of_operation}
    other = world.issue(CODES[1], "card-2")
    clock.set(signing(other).certificate.not_valid_after_utc + timedelta(seconds=1))
    world.feed.add(NoticeKind.RECORD_REMOVED, CODES[1], clock.now())
    assert world.consumer.run_once().revoked == ()


def test_a_resident_code_change_re_links_without_revoking(world: World,
                                                          clock: FrozenClock) -> None:
    old, new, newer = CODES[0], CODES[1], CODES[2]
    pair = world.issue(old, "card-1")
    clock.advance(timedelta(hours=1))
    world.feed.add(NoticeKind.RESIDENT_CODE_CHANGED, new, clock.now(), previous=old)
    assert world.consumer.run_once().revoked == ()
    assert entries(world.sessions) == []
    clock.advance(timedelta(hours=1))
    world.feed.add(NoticeKind.RESIDENT_CODE_CHANGED, newer, clock.now(), previous=new)
    world.feed.add(NoticeKind.BASIC_FOUR_CHANGED, newer, clock.now())  # same batch
    revoked = world.consumer.run_once().revoked
    assert [r.ref for r in revoked] == [ref(pair.signing)]
    assert revoked[0].resident_code == old, "the certificate keeps the code it was issued to"


def test_replaying_the_feed_changes_nothing(world: World, clock: FrozenClock) -> None:
    pairs = [world.issue(code, f"card-{i}") for i, code in enumerate(CODES[:3])]
    clock.advance(timedelta(hours=1))
    world.feed.add(NoticeKind.BASIC_FOUR_CHANGED, CODES[0], clock.now())
    world.feed.add(NoticeKind.RECORD_REMOVED, CODES[0], clock.now())  # signing already gone
    world.feed.add(NoticeKind.RECORD_REMOVED, CODES[1], clock.now())
    assert world.consumer.drain(limit=2) == 3
    first = [(e.serial, e.reason, e.cause_ref) for e in entries(world.sessions)]
    assert len(first) == 4
    assert first[0][1] == "affiliationChanged" and first[1][1] == "cessationOfOperation"
    with world.sessions() as session, session.begin():
        session.execute(update(RevocationCursor).values(last_seq=0))
    clock.advance(timedelta(hours=1))
    batch = world.consumer.run_once()
    assert (batch.read, batch.applied, batch.skipped, batch.revoked) == (3, 0, 3, ())
    second = NoticeConsumer(world.sessions, clock, world.feed, world.directory,
                            name="another-reader")
    assert second.drain() == 0 and second.position() == 3, "applied by notice id, whoever reads"
    assert world.consumer.drain() == 0
    assert [(e.serial, e.reason, e.cause_ref) for e in entries(world.sessions)] == first
    assert world.service.status(*_key(pairs[2].signing)).state is CertStatus.GOOD


def test_a_crash_mid_batch_loses_nothing_and_duplicates_nothing(
        world: World, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    for i, code in enumerate(CODES[:3]):
        world.issue(code, f"card-{i}")
    clock.advance(timedelta(hours=1))
    for code in CODES[:3]:
        world.feed.add(NoticeKind.RECORD_REMOVED, code, clock.now())
    real_write = service_module._write

    def write_then_die(*args: Any) -> Any:
        real_write(*args)  # the rows are written in the transaction...
        raise RuntimeError("killed")  # ...which never commits

    monkeypatch.setattr(service_module, "_write", write_then_die)
    with pytest.raises(RuntimeError):
        world.consumer.run_once()
    assert entries(world.sessions) == [] and world.consumer.position() == 0
    monkeypatch.setattr(service_module, "_write", real_write)
    assert world.consumer.drain() == 3
    rows = entries(world.sessions)
    assert len(rows) == 6 == len({(r.issuer_key_id, r.serial) for r in rows})


def test_the_real_feed_a_relocation_at_the_counter_revokes_the_signing_certificate(
        world: World, register: Register, sessions: sessionmaker[Session],
        clock: FrozenClock) -> None:
    code = arrive(register)
    workers.drain(sessions, clock)
    pair = world.issue(code, "card-1")
    register.perform("clerk", Relocation(resident_codes=[code], address="東町5番8号"))
    workers.drain(sessions, clock)
    consumer = NoticeConsumer(sessions, clock, JukiFeed(sessions), world.directory,
                              listeners=[world.ocsp.on_revoked])
    assert consumer.drain() == 1
    assert world.service.status(*_key(pair.signing)).state is CertStatus.REVOKED
    assert world.service.status(*_key(pair.authentication)).state is CertStatus.GOOD
    assert consumer.drain() == 0


# -- requests --------------------------------------------------------------------------------------


def test_revoking_twice_changes_nothing_and_says_so(world: World, clock: FrozenClock) -> None:
    pair = world.issue(CODES[0], "card-1")
    (first,) = world.service.request([ref(pair.signing)], operator="clerk", request_id="req-1")
    assert first.changed and first.revocation.reason is x509.ReasonFlags.unspecified
    assert (first.revocation.operator, first.revocation.cause_ref) == ("clerk", "req-1")
    clock.advance(timedelta(hours=1))
    (again,) = world.service.request([ref(pair.signing)], key_compromise=True,
                                     operator="chief", request_id="req-2")
    assert not again.changed and again.revocation == first.revocation
    assert "already revoked" in again.message and "nothing changed" in again.message
    assert len(entries(world.sessions)) == 1
    (leaked,) = world.service.request([ref(pair.authentication)], key_compromise=True,
                                      invalidity_date=clock.now() - timedelta(days=1))
    assert leaked.revocation.reason is x509.ReasonFlags.key_compromise
    assert leaked.revocation.invalidity_date == (
        pair.authentication.certificate.not_valid_before_utc), "not before the certificate"
    with pytest.raises(UnknownCertificate):
        world.service.request([CertRef(ref(pair.signing).issuer_key_id, 12345)])
    with pytest.raises(InvalidRequest):
        world.service.revoke(ref(pair.signing), Cause.RESIDENT_CODE_CHANGED)


def test_a_lost_card_is_held_for_ever(world: World, clock: FrozenClock) -> None:
    pair = world.issue(CODES[0], "card-1")
    other = world.issue(CODES[0], "card-2")
    outcomes = world.service.card_lost("card-1", operator="clerk")
    assert {o.revocation.ref for o in outcomes} == {ref(pair.signing),
                                                    ref(pair.authentication)}
    assert {o.revocation.reason for o in outcomes} == {x509.ReasonFlags.certificate_hold}
    clock.advance(timedelta(days=1))
    world.feed.add(NoticeKind.RECORD_REMOVED, CODES[0], clock.now())
    revoked = world.consumer.run_once().revoked
    assert {r.ref for r in revoked} == {ref(other.signing), ref(other.authentication)}
    held = world.service.status(*_key(pair.signing))
    assert held.revocation is not None
    assert held.revocation.reason is x509.ReasonFlags.certificate_hold, "never released"
    with pytest.raises(UnknownCertificate):
        world.service.card_lost("no-such-card")


def test_renewal_supersedes_the_older_certificate_of_the_same_kind(
        world: World, clock: FrozenClock) -> None:
    old = world.issue(CODES[0], "card-1")
    clock.advance(timedelta(days=700))
    new = world.issue(CODES[0], "card-1")
    outcomes = world.service.supersede(ref(new.signing), operator="clerk")
    assert [(o.revocation.ref, o.revocation.reason) for o in outcomes] == [
        (ref(old.signing), x509.ReasonFlags.superseded)]
    assert outcomes[0].revocation.cause_ref == str(ref(new.signing))
    assert world.service.status(*_key(old.authentication)).state is CertStatus.GOOD
    assert world.service.supersede(ref(new.signing))[0].changed is False


def test_a_ca_compromise_revokes_every_certificate_of_the_generation(
        world: World, clock: FrozenClock) -> None:
    pairs = [world.issue(code, f"card-{i}") for i, code in enumerate(CODES[:3])]
    signing_ca = world.generation(CertKind.SIGNING)
    responder = world.signers.responder(signing_ca.key_id)
    assert responder is not None
    assert world.service.ca_compromise(signing_ca.key_id, operator="chief", batch=2) == 4
    rows = entries(world.sessions)
    assert {int(r.serial) for r in rows} == {ref(p.signing).serial for p in pairs} | {
        responder.certificate.serial_number}, "the delegated responder too"
    assert {r.reason for r in rows} == {"cACompromise"}
    assert world.service.ca_compromise(signing_ca.key_id) == 0
    for p in pairs:
        assert world.service.status(*_key(p.authentication)).state is CertStatus.GOOD


# -- CRLs ------------------------------------------------------------------------------------------


def _openssl() -> str:
    """The openssl binary (installed with apt-get when missing)."""
    return tool("openssl")


def _pem(path: Path, obj: x509.Certificate | x509.CertificateRevocationList) -> str:
    path.write_bytes(obj.public_bytes(serialization.Encoding.PEM))
    return str(path)


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_crl_partitions_carry_their_own_entries_and_url(world: World, clock: FrozenClock,
                                                       tmp_path: Path) -> None:
    here = world.issue(CODES[0], "card-1")
    there = world.issue(CODES[1], "card-2", municipality=HIRATSUKA)
    good = world.issue(CODES[2], "card-3")
    for pair in (here, there):
        world.service.request([ref(pair.signing)], key_compromise=True,
                              invalidity_date=clock.now())
    world.service.request([ref(here.authentication)])  # unspecified: no reason code
    issuer = world.generation(CertKind.SIGNING)
    assert set(world.crls.due()) >= {(issuer.key_id, MUNICIPALITY), (issuer.key_id, HIRATSUKA),
                                     (issuer.key_id, FULL)}
    published = world.crls.issue(issuer.key_id, MUNICIPALITY)
    crl = x509.load_der_x509_crl(published.der)
    assert crl.is_signature_valid(_rsa(issuer.certificate))
    assert world.signers.crl_signers[issuer.key_id].calls == 1, "signed through the port"
    assert [e.serial_number for e in crl] == [ref(here.signing).serial]
    entry = crl.get_revoked_certificate_by_serial_number(ref(here.signing).serial)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is (
        x509.ReasonFlags.key_compromise)
    assert entry.extensions.get_extension_for_class(x509.InvalidityDate).value.invalidity_date_utc \
        == clock.now().replace(microsecond=0)
    idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert idp.critical and idp.value.only_contains_user_certs
    leaf_dp = signing(here).certificate.extensions.get_extension_for_class(
        x509.CRLDistributionPoints).value[0].full_name
    assert idp.value.full_name == leaf_dp
    assert idp.value.full_name is not None
    assert idp.value.full_name[0].value == f"{BASE}/crl/sign-1/{MUNICIPALITY}.crl"
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 1
    assert crl.next_update_utc == crl.last_update_utc + timedelta(hours=24)

    auth_crl = x509.load_der_x509_crl(world.crls.issue(
        world.generation(CertKind.AUTHENTICATION).key_id, MUNICIPALITY).der)
    (auth_entry,) = list(auth_crl)
    with pytest.raises(x509.ExtensionNotFound):
        auth_entry.extensions.get_extension_for_class(x509.CRLReason)
    full = x509.load_der_x509_crl(world.crls.issue(issuer.key_id, FULL).der)
    with pytest.raises(x509.ExtensionNotFound):
        full.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert {e.serial_number for e in full} == {ref(here.signing).serial,
                                               ref(there.signing).serial}

    openssl = _openssl()
    crl_pem, ca_pem = _pem(tmp_path / "crl.pem", crl), _pem(tmp_path / "ca.pem",
                                                            issuer.certificate)
    text = _run(openssl, "crl", "-in", crl_pem, "-text", "-noout")
    assert text.returncode == 0, text.stderr
    assert "Issuing Distribution Point: critical" in text.stdout
    assert f"{BASE}/crl/sign-1/{MUNICIPALITY}.crl" in text.stdout
    assert "Key Compromise" in text.stdout
    at = str(int(clock.now().timestamp()) + 60)
    for pair, verdict in ((good, 0), (here, 2)):
        result = _run(openssl, "verify", "-crl_check", "-attime", at, "-CAfile", ca_pem,
                      "-CRLfile", crl_pem, _pem(tmp_path / "leaf.pem", signing(pair).certificate))
        assert (result.returncode != 0) == bool(verdict), result.stdout + result.stderr
        if verdict:
            assert "certificate revoked" in result.stdout + result.stderr


def test_crl_numbers_increase_and_expired_certificates_leave(world: World,
                                                             clock: FrozenClock) -> None:
    pair = world.issue(CODES[0], "card-1")
    issuer = world.generation(CertKind.SIGNING)
    first = world.crls.ensure(issuer.name, MUNICIPALITY)
    assert first.number == 1 and first.entries == 0
    assert world.crls.ensure(issuer.name, MUNICIPALITY) == first, "still fresh"
    assert (issuer.key_id, MUNICIPALITY) not in world.crls.due()
    world.service.request([ref(pair.signing)])
    assert (issuer.key_id, MUNICIPALITY) in world.crls.due(), "a revocation in the partition"
    numbers = [p.number for p in world.crls.publish_due() if p.partition == MUNICIPALITY]
    assert numbers == [2] and world.crls.due() == []
    clock.advance(timedelta(hours=23, minutes=1))
    assert {(issuer.key_id, MUNICIPALITY), (issuer.key_id, FULL)} <= set(world.crls.due())
    renewed = world.crls.ensure(issuer.name, MUNICIPALITY)
    assert renewed.number == 3 and renewed.entries == 1
    clock.set(signing(pair).certificate.not_valid_after_utc + timedelta(seconds=1))
    expired = world.crls.issue(issuer.key_id, MUNICIPALITY)
    assert expired.number == 4 and expired.entries == 0
    numbers = [x509.load_der_x509_crl(p.der).extensions.get_extension_for_class(
        x509.CRLNumber).value.crl_number for p in (first, renewed, expired)]
    assert numbers == sorted(set(numbers))
    assert world.crls.latest(issuer.key_id, MUNICIPALITY) == expired
    with pytest.raises(InvalidRequest):
        world.crls.issue(issuer.key_id, "../etc")


def test_the_fast_crl_encoding_equals_cryptographys(keys: dict[str, rsa.RSAPrivateKey]
                                                    ) -> None:
    key = keys["responder"]
    now = datetime(2026, 4, 1, 1, 2, 3, tzinfo=UTC)
    root = profile.sign(profile.root_certificate(
        CertKind.SIGNING, key.public_key(), serial=profile.random_serial(), not_before=now,
        not_after=now + timedelta(days=365)), key)
    issuer = Issuer("sign-1", CertKind.SIGNING, "00", root)
    reasons = [r for r in x509.ReasonFlags if r not in (x509.ReasonFlags.remove_from_crl,)]
    listed = [Entry(profile.random_serial() >> (i % 100), now - timedelta(minutes=i),
                    reasons[i % len(reasons)],
                    now - timedelta(days=i) if i % 3 else None) for i in range(300)]
    listed.append(Entry(1, datetime(2051, 1, 1, tzinfo=UTC), x509.ReasonFlags.superseded,
                        None))
    url = f"{BASE}/crl/sign-1/{MUNICIPALITY}.crl"
    for idp in (url, None):
        ours = build_crl(issuer, key, number=7, this_update=now,
                         next_update=now + timedelta(days=1), entries=listed, idp_url=idp)
        revoked = []
        for e in listed:
            extensions: list[x509.Extension[x509.ExtensionType]] = []
            if e.reason is not x509.ReasonFlags.unspecified:
                extensions.append(x509.Extension(x509.CRLReason.oid, False,
                                                 x509.CRLReason(e.reason)))
            if e.invalidity_date is not None:
                extensions.append(x509.Extension(
                    x509.InvalidityDate.oid, False,
                    x509.InvalidityDate(e.invalidity_date.replace(tzinfo=None))))
            revoked.append(x509.RevokedCertificateBuilder(e.serial, e.revoked_at,
                                                          extensions).build())
        theirs = x509.CertificateRevocationListBuilder(
            issuer_name=root.subject, last_update=now, next_update=now + timedelta(days=1),
            extensions=crl_extensions(issuer, 7, idp), revoked_certificates=revoked,
        ).sign(key, hashes.SHA256())
        assert ours == theirs.public_bytes(serialization.Encoding.DER)
    empty = build_crl(issuer, key, number=1, this_update=now,
                      next_update=now + timedelta(days=1), entries=[], idp_url=url)
    assert list(x509.load_der_x509_crl(empty)) == []
    assert crls.crl_url(BASE + "/", "auth-2", FULL) == f"{BASE}/crl/auth-2/full.crl"


def _lint(tool: str, der: bytes, tmp_path: Path, *args: str) -> str:
    path = tmp_path / f"{tool}.der"
    path.write_bytes(der)
    result = _run(str(Path(sys.executable).parent / tool), "lint", *args, "-s", "WARNING",
                  "--document-format", "DER", str(path))
    return result.stdout.strip() + result.stderr.strip()


def test_crls_and_ocsp_responses_pass_pkilint(world: World, clock: FrozenClock,
                                              tmp_path: Path) -> None:
    pair = world.issue(CODES[0], "card-1")
    world.service.request([ref(pair.signing)], key_compromise=True, invalidity_date=clock.now())
    world.service.card_lost("card-1")
    issuer = world.generation(CertKind.SIGNING)
    for partition in (MUNICIPALITY, FULL):
        der = world.crls.issue(issuer.key_id, partition).der
        assert _lint("lint_crl", der, tmp_path, "-t", "CRL", "-p", "PKIX") == ""
    for issued in (pair.signing, pair.authentication):
        der = world.ocsp.respond(_request(world, issued, nonce=b"0123456789abcdef"))
        assert _lint("lint_ocsp_response", der, tmp_path) == ""


# -- OCSP ------------------------------------------------------------------------------------------


def _request(world: World, issued: Issued | None, *, nonce: bytes | None = None,
             algorithm: hashes.HashAlgorithm | None = None) -> bytes:
    assert issued is not None
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        issued.certificate, issued.issuer.certificate, algorithm or hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def _unknown_serial_request(world: World) -> bytes:
    issuer = world.generation(CertKind.SIGNING)
    certid = cert_id(issuer.certificate, 4242)
    return ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        certid.name_hash, certid.key_hash, 4242, hashes.SHA1()).build().public_bytes(
        serialization.Encoding.DER)


def test_ocsp_answers_good_revoked_and_unknown(world: World, clock: FrozenClock) -> None:
    pair = world.issue(CODES[0], "card-1")
    issuer = world.generation(CertKind.SIGNING)
    response = ocsp.load_der_ocsp_response(world.ocsp.respond(_request(world, pair.signing)))
    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert response.serial_number == ref(pair.signing).serial
    responder = world.signers.responders[issuer.key_id]
    assert response.responder_key_hash == responder.certificate.extensions \
        .get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    assert response.certificates == [responder.certificate]
    _rsa(responder.certificate).verify(
        response.signature, response.tbs_response_bytes, padding.PKCS1v15(),
        hashes.SHA256())
    assert response.next_update_utc == response.this_update_utc + timedelta(hours=24)

    clock.advance(timedelta(minutes=1))
    world.service.request([ref(pair.signing)], key_compromise=True)
    revoked = ocsp.load_der_ocsp_response(world.ocsp.respond(_request(world, pair.signing)))
    assert revoked.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert revoked.revocation_reason is x509.ReasonFlags.key_compromise
    assert revoked.revocation_time_utc == clock.now().replace(microsecond=0)

    unknown = ocsp.load_der_ocsp_response(world.ocsp.respond(_unknown_serial_request(world)))
    assert unknown.certificate_status is ocsp.OCSPCertStatus.UNKNOWN, "never issued: not good"

    sha256 = ocsp.load_der_ocsp_response(world.ocsp.respond(
        _request(world, pair.authentication, algorithm=hashes.SHA256())))
    assert sha256.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert isinstance(sha256.hash_algorithm, hashes.SHA256)


def test_ocsp_malformed_and_foreign_requests(world: World,
                                             keys: dict[str, rsa.RSAPrivateKey]) -> None:
    for junk in (b"", b"\x30\x03\x02\x01", b"not der at all", b"\x30" * 20_000):
        response = ocsp.load_der_ocsp_response(world.ocsp.respond(junk))
        assert response.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    stranger = profile.sign(profile.root_certificate(
        CertKind.SIGNING, keys["auth"].public_key(), serial=profile.random_serial(),
        not_before=START_AWARE, not_after=START_AWARE + timedelta(days=1)), keys["auth"])
    certid = cert_id(stranger, 99)
    foreign = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        certid.name_hash, certid.key_hash, 99, hashes.SHA1()).build().public_bytes(
        serialization.Encoding.DER)
    response = ocsp.load_der_ocsp_response(world.ocsp.respond(foreign))
    assert response.response_status is ocsp.OCSPResponseStatus.UNAUTHORIZED


START_AWARE = datetime(2026, 4, 1, tzinfo=UTC)


def test_pre_signed_responses_and_nonces(world: World, clock: FrozenClock) -> None:
    pair = world.issue(CODES[0], "card-1")
    issuer = world.generation(CertKind.SIGNING)
    world.signers.responder(issuer.key_id)
    assert world.ocsp.presign_issuer(issuer.key_id) == 2  # the signing certificate, the responder
    signer = world.signers.responder_key
    calls = signer.calls
    first = world.ocsp.respond(_request(world, pair.signing))
    assert world.ocsp.respond(_request(world, pair.signing)) == first
    assert signer.calls == calls, "served pre-signed"
    assert world.ocsp.presign_issuer(issuer.key_id) == 0, "nothing missing"

    nonced = [ocsp.load_der_ocsp_response(world.ocsp.respond(
        _request(world, pair.signing, nonce=n))) for n in (b"a" * 16, b"b" * 16)]
    assert [r.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
            for r in nonced] == [b"a" * 16, b"b" * 16]
    assert signer.calls == calls + 2, "a nonce gets a fresh signature"
    too_long = ocsp.load_der_ocsp_response(world.ocsp.respond(
        _request(world, pair.signing, nonce=b"x" * 33)))
    assert too_long.response_status is ocsp.OCSPResponseStatus.MALFORMED_REQUEST

    world.service.card_lost("card-1")  # the listener re-signs at once
    cached = world.ocsp.cached(*_key(pair.signing))
    assert cached is not None and cached != first
    assert ocsp.load_der_ocsp_response(cached).revocation_reason is (
        x509.ReasonFlags.certificate_hold)
    assert world.ocsp.respond(_request(world, pair.signing)) == cached

    clock.advance(timedelta(hours=13))  # less than the refresh margin left
    assert world.ocsp.cached(*_key(pair.signing)) is None
    assert world.ocsp.refresh_due() == 3  # both certificates of the card, the responder
    assert world.ocsp.cached(*_key(pair.signing)) not in (None, cached)


def test_a_stale_good_response_is_never_served_after_a_revocation(world: World) -> None:
    pair = world.issue(CODES[0], "card-1")
    good = world.ocsp.respond(_request(world, pair.signing))
    service = RevocationService(world.sessions, world.clock, world.directory)  # no listener
    service.request([ref(pair.signing)])
    answer = ocsp.load_der_ocsp_response(world.ocsp.respond(_request(world, pair.signing)))
    assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert answer.public_bytes(serialization.Encoding.DER) != good


def test_openssl_accepts_the_responses(world: World, clock: FrozenClock, tmp_path: Path
                                       ) -> None:
    openssl = _openssl()
    pair = world.issue(CODES[0], "card-1")
    issuer = world.generation(CertKind.SIGNING)
    world.ocsp.presign_issuer(issuer.key_id)
    responder = world.signers.responders[issuer.key_id].certificate
    ca_pem = _pem(tmp_path / "ca.pem", issuer.certificate)
    va_pem = _pem(tmp_path / "responder.pem", responder)
    leaf_pem = _pem(tmp_path / "leaf.pem", signing(pair).certificate)
    at = str(int(clock.now().timestamp()) + 60)
    # The test clock is not the wall clock: allow any skew when openssl checks the times.
    times = ["-attime", at, "-validity_period", str(20 * 365 * 86400)]
    check = [openssl, "ocsp", "-issuer", ca_pem, "-cert", leaf_pem, "-VAfile", va_pem,
             "-CAfile", ca_pem, *times, "-no_nonce", "-respin"]

    def status(response: bytes) -> str:
        (tmp_path / "resp.der").write_bytes(response)
        result = _run(*check, str(tmp_path / "resp.der"))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Response verify OK" in result.stderr + result.stdout
        return result.stdout

    assert f"{leaf_pem}: good" in status(world.ocsp.respond(_request(world, pair.signing)))
    clock.advance(timedelta(seconds=30))
    world.service.request([ref(pair.signing)], key_compromise=True)
    text = status(world.ocsp.respond(_request(world, pair.signing)))
    assert f"{leaf_pem}: revoked" in text and "keyCompromise" in text

    request = _run(openssl, "ocsp", "-issuer", ca_pem, "-cert", leaf_pem, "-reqout",
                   str(tmp_path / "req.der"))  # with openssl's own nonce
    assert request.returncode == 0, request.stderr
    (tmp_path / "nonce.der").write_bytes(world.ocsp.respond((tmp_path / "req.der").read_bytes()))
    nonce = _run(openssl, "ocsp", "-reqin", str(tmp_path / "req.der"), "-respin",
                 str(tmp_path / "nonce.der"), "-VAfile", va_pem, "-CAfile", ca_pem, *times)
    output = nonce.stdout + nonce.stderr
    assert nonce.returncode == 0 and "Response verify OK" in output, output
    assert "nonce" not in output.lower(), output


def test_revocations_never_delete(world: World) -> None:
    pair = world.issue(CODES[0], "card-1")
    world.service.request([ref(pair.signing)])
    world.service.card_lost("card-1")
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(RevocationEntry)) == 2


def test_a_failing_listener_does_not_undo_a_revocation(world: World,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    pair = world.issue(CODES[0], "card-1")

    def broken(revoked: object) -> None:
        raise RuntimeError("the cache is down")

    world.service.listeners.append(broken)
    (outcome,) = world.service.request([ref(pair.signing)])
    assert outcome.changed and "listener failed" in caplog.text
    assert world.service.status(*_key(pair.signing)).state is CertStatus.REVOKED
