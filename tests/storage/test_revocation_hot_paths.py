"""The fast paths of the revocation service stay exact: OCSP answers kept in memory never
outlive a revocation committed elsewhere, and CRLs encoded straight from the table's rows are
what ``entry_der`` makes of the same entries."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import crl as asn1_crl
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from ca.authority import CertificateAuthority, Issued
from ca.enrolment import Holder, issue_pair
from ca.keystore import FileKeyStore
from pki.clock import FrozenClock
from pki.eras import PartialDate
from pki.profile import CertKind
from revocation.crl import FULL, Entry, entry_der
from revocation.ocsp import ResponseMemory
from revocation.rules import Cause
from revocation.service import CertRef
from revocation.tables import RevocationEntry
from tests.conftest import MUNICIPALITY
from web.revocation_wiring import RevocationSide

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def ca(sessions: sessionmaker[Session], clock: FrozenClock, tmp_path: Path
       ) -> tuple[CertificateAuthority, FileKeyStore]:
    keys = FileKeyStore(tmp_path / "ca-keys", b"test passphrase, not a secret")
    authority = CertificateAuthority(sessions, clock, keys, BASE)
    authority.init()
    return authority, keys


def _side(ca: tuple[CertificateAuthority, FileKeyStore], sessions: sessionmaker[Session],
          clock: FrozenClock) -> RevocationSide:
    return RevocationSide.build(ca[0], ca[1], sessions, clock, BASE)


def _signing_certificate(authority: CertificateAuthority, clock: FrozenClock) -> Issued:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    holder = Holder(resident_code="24727059608", name="山田　花子", sex=2,
                    birth_date=PartialDate.parse("1990-05-03"),
                    address="埼玉県所沢市並木三丁目1番1号", municipality_code=MUNICIPALITY,
                    prefecture="埼玉県", municipality="所沢市", active=True)
    pair = issue_pair(authority, holder, card_id="card-1", signing_key=key, auth_key=key,
                      issued_at=clock.now())
    assert pair.signing is not None
    return pair.signing


def _request(issued: Issued, nonce: bytes | None = None) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(
        issued.certificate, issued.issuer.certificate, hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(Encoding.DER)


def _status(der: bytes) -> ocsp.OCSPCertStatus:
    return ocsp.load_der_ocsp_response(der).certificate_status


def test_an_answer_kept_in_memory_turns_revoked_when_another_process_revokes(
        ca: tuple[CertificateAuthority, FileKeyStore], sessions: sessionmaker[Session],
        clock: FrozenClock) -> None:
    issued = _signing_certificate(ca[0], clock)
    server, worker = _side(ca, sessions, clock), _side(ca, sessions, clock)
    request = _request(issued)
    assert _status(server.ocsp.respond(request)) is ocsp.OCSPCertStatus.GOOD
    assert _status(server.ocsp.respond(request)) is ocsp.OCSPCertStatus.GOOD  # from memory
    # The worker's revocation notifies only its own responder: the server learns it from the
    # revocation table, at the very next request.
    worker.service.revoke(CertRef(issued.issuer.key_id, issued.serial), Cause.BASIC_FOUR_CHANGED)
    answer = ocsp.load_der_ocsp_response(server.ocsp.respond(request))
    assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert answer.revocation_reason is x509.ReasonFlags.affiliation_changed
    fresh = ocsp.load_der_ocsp_response(server.ocsp.respond(_request(issued, os.urandom(16))))
    assert fresh.certificate_status is ocsp.OCSPCertStatus.REVOKED


def test_a_nonce_answer_for_a_good_certificate_is_signed_fresh_and_echoes_it(
        ca: tuple[CertificateAuthority, FileKeyStore], sessions: sessionmaker[Session],
        clock: FrozenClock) -> None:
    issued = _signing_certificate(ca[0], clock)
    side = _side(ca, sessions, clock)
    side.ocsp.respond(_request(issued))  # now kept in memory
    for nonce in (b"\x01" * 16, b"\x02" * 16):
        answer = ocsp.load_der_ocsp_response(side.ocsp.respond(_request(issued, nonce)))
        assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
        assert answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce


def test_the_memory_keeps_at_most_its_size_and_forgets_the_oldest_first() -> None:
    memory = ResponseMemory(2)
    until = datetime(2030, 1, 1, tzinfo=UTC)
    for serial in (1, 2, 3):
        memory.keep("k", serial, True, until, bytes([serial]))
    assert memory.get("k", 1) is None
    assert [memory.get("k", s).der for s in (2, 3)] == [b"\x02", b"\x03"]  # type: ignore[union-attr]
    memory.keep("k", 2, False, until, b"\x12")  # replacing makes it the newest
    memory.keep("k", 4, True, until, b"\x04")
    assert memory.get("k", 3) is None and memory.get("k", 2) is not None


def test_a_crl_from_the_table_lists_each_row_as_entry_der_encodes_it(
        ca: tuple[CertificateAuthority, FileKeyStore], sessions: sessionmaker[Session],
        clock: FrozenClock) -> None:
    side = _side(ca, sessions, clock)
    key_id = ca[0].current(CertKind.SIGNING).key_id
    now = clock.now()
    rows = [  # (serial, revoked_at, reason, invalidity, partition, not_after)
        (2**158 + 5, now - timedelta(days=3, microseconds=-123456),
         x509.ReasonFlags.affiliation_changed, None, MUNICIPALITY, now + timedelta(days=9)),
        (7, now - timedelta(hours=1), x509.ReasonFlags.unspecified, None, "142034",
         now + timedelta(days=9)),
        (2**70 + 1, now - timedelta(minutes=5), x509.ReasonFlags.key_compromise,
         now - timedelta(days=2, microseconds=-654321), MUNICIPALITY, now + timedelta(days=9)),
        (99, now - timedelta(days=1), x509.ReasonFlags.cessation_of_operation, None,
         MUNICIPALITY, now - timedelta(seconds=1)),  # expired: left out
        (255, datetime(2051, 2, 3, 4, 5, 6, 789, tzinfo=UTC), x509.ReasonFlags.superseded,
         datetime(2050, 12, 31, 23, 59, 59, tzinfo=UTC), MUNICIPALITY,
         datetime(2052, 1, 1, tzinfo=UTC)),
        (128, now - timedelta(seconds=30), x509.ReasonFlags.certificate_hold, None, None,
         now + timedelta(days=9)),
    ]
    with sessions() as session, session.begin():
        session.connection().execute(insert(RevocationEntry), [
            {"issuer_key_id": key_id, "serial": str(serial), "kind": "sign",
             "resident_code": None, "card_id": None, "partition": partition,
             "not_after": not_after, "reason": reason.value,
             "cause": Cause.HOLDER_REQUEST.value, "cause_ref": None, "operator": None,
             "revoked_at": revoked_at, "invalidity_date": invalidity}
            for serial, revoked_at, reason, invalidity, partition, not_after in rows])

    def expected(partition: str) -> bytes:
        listed = [Entry(serial, revoked_at.replace(microsecond=0), reason,
                        invalidity.replace(microsecond=0) if invalidity else None)
                  for serial, revoked_at, reason, invalidity, part, not_after in rows
                  if not_after >= now and partition in (FULL, part)]
        return b"".join(map(entry_der, listed))

    for partition in (FULL, MUNICIPALITY):
        published = side.crls.issue(key_id, partition)
        tbs = asn1_crl.CertificateList.load(published.der)["tbs_cert_list"]
        assert tbs["revoked_certificates"].contents == expected(partition)
        assert published.entries == (5 if partition == FULL else 3)
        assert x509.load_der_x509_crl(published.der).is_signature_valid(
            ca[0].current(CertKind.SIGNING).certificate.public_key())  # type: ignore[arg-type]
