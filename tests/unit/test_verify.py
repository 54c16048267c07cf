"""The verifier: every sub-indication from a real case, wrapping attacks, hostile XML, the report.

Also the shared test PKI of the signing tests: a throwaway JPKI-style CA built with the profile
builders, virtual cards whose signing certificates it issues, and OCSP responses and CRLs signed
as the revocation service signs them (a delegated responder; a partitioned CRL).
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509 import ocsp
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    SignatureConfiguration,
    SignatureMethod,
    SignatureReference,
    XMLSigner,
    XMLVerifier,
)

from pki import oids
from pki.basic_four import BasicFour, Sex
from pki.card import Card, VirtualCard
from pki.eras import PartialDate
from pki.profile import (
    CertKind,
    Endpoints,
    authentication_certificate,
    new_with_old,
    ocsp_responder_certificate,
    random_serial,
    root_certificate,
    sign,
    signing_certificate,
)
from pki.signing import DigestSigner, MalformedDocument, card_signer, key_signer
from pki.signing.xml import DS_NS, Limits, Utf8Serialisation, sign_xml
from pki.validity import signing_validity
from pki.verify import (
    EvidenceUnavailable,
    Indication,
    NoEvidence,
    Report,
    RevocationEvidence,
    SubIndication,
    TrustStore,
    verify_xml,
)
from tests.debian import tool

SEAL_KEY = bytes(range(32))
AUTH_PIN = "1234"
SIGN_PASSWORD = "ABC123"
T_ROOT = datetime(2026, 1, 1, tzinfo=UTC)
T_ROOT_END = datetime(2046, 1, 1, tzinfo=UTC)
T_ISSUE = datetime(2026, 4, 1, 1, 0, 5, tzinfo=UTC)  # 10:00:05 JST
AT = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)  # when the tests verify
BIRTH = PartialDate.of(date(1975, 3, 15))
ENDPOINTS = Endpoints(
    crl_url="http://repository.jpki.test/crl/sign-1/112089.crl",
    ocsp_url="http://repository.jpki.test/ocsp",
    ca_issuers_url="http://repository.jpki.test/ca/sign.cer",
)
EXAMPLE = resources.files("pki.signing").joinpath("examples/tax_return.xml").read_bytes()
SIG_XPATH = "/*/*[local-name()='Signature' and namespace-uri()='{ns}'][{n}]"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


@dataclass
class Authority:
    """A throwaway signing CA and authentication CA with a delegated OCSP responder."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    auth_key: rsa.RSAPrivateKey
    auth_cert: x509.Certificate
    responder_key: rsa.RSAPrivateKey
    responder: x509.Certificate

    @property
    def trust(self) -> TrustStore:
        return TrustStore((self.cert,))

    def issue_signing(self, public_key: rsa.RSAPublicKey, *, issued_at: datetime = T_ISSUE,
                      family: str = "髙橋", given: str = "太郎",
                      issuance_id: str = "S2026-0001") -> x509.Certificate:
        validity = signing_validity(issued_at, BIRTH)
        four = BasicFour.from_register(family, given, Sex.MALE, BIRTH, "埼玉県所沢市並木1-1-1")
        return sign(signing_certificate(
            self.cert, public_key, serial=random_serial(), not_before=validity.not_before,
            not_after=validity.not_after, prefecture="埼玉県", municipality="所沢市",
            issuance_id=issuance_id, basic_four=four, endpoints=ENDPOINTS), self.key)

    def issue_auth(self, public_key: rsa.RSAPublicKey) -> x509.Certificate:
        validity = signing_validity(T_ISSUE, BIRTH)
        return sign(authentication_certificate(
            self.auth_cert, public_key, serial=random_serial(), not_before=validity.not_before,
            not_after=validity.not_after, subject_id="A2026-0001", endpoints=ENDPOINTS),
            self.auth_key)

    def ocsp(self, cert: x509.Certificate, *, status: str = "good", at: datetime = AT,
             revoked_at: datetime | None = None, reason: x509.ReasonFlags | None = None,
             delegated: bool = True) -> bytes:
        """A response as the revocation service makes it: valid from an hour before ``at``."""
        states = {"good": ocsp.OCSPCertStatus.GOOD, "revoked": ocsp.OCSPCertStatus.REVOKED,
                  "unknown": ocsp.OCSPCertStatus.UNKNOWN}
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=cert, issuer=self.cert, algorithm=hashes.SHA256(), cert_status=states[status],
            this_update=at - timedelta(hours=1), next_update=at + timedelta(hours=23),
            revocation_time=revoked_at, revocation_reason=reason)
        responder, key = (self.responder, self.responder_key) if delegated else (
            self.cert, self.key)
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, responder)
        if delegated:
            builder = builder.certificates([responder])
        return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def crl(self, revoked: Sequence[tuple[x509.Certificate, datetime, x509.ReasonFlags]] = (),
            *, at: datetime = AT, partition: bool = True) -> bytes:
        """A CRL valid around ``at``; ``partition`` adds the municipality's critical IDP."""
        builder = (x509.CertificateRevocationListBuilder().issuer_name(self.cert.subject)
                   .last_update(at - timedelta(hours=1)).next_update(at + timedelta(hours=23))
                   .add_extension(x509.CRLNumber(1), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       self.key.public_key()), critical=False))
        if partition:
            builder = builder.add_extension(x509.IssuingDistributionPoint(
                full_name=[x509.UniformResourceIdentifier(ENDPOINTS.crl_url)],
                relative_name=None, only_contains_user_certs=True, only_contains_ca_certs=False,
                only_some_reasons=None, indirect_crl=False, only_contains_attribute_certs=False,
            ), critical=True)
        for cert, when, reason in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(cert.serial_number)
                .revocation_date(when).add_extension(x509.CRLReason(reason), critical=False)
                .build())
        return builder.sign(self.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def make_authority() -> Authority:
    key, auth_key, responder_key = new_key(), new_key(), new_key()
    cert = sign(root_certificate(CertKind.SIGNING, key.public_key(), serial=random_serial(),
                                 not_before=T_ROOT, not_after=T_ROOT_END), key)
    auth_cert = sign(root_certificate(
        CertKind.AUTHENTICATION, auth_key.public_key(), serial=random_serial(),
        not_before=T_ROOT, not_after=T_ROOT_END), auth_key)
    responder = sign(ocsp_responder_certificate(
        cert, responder_key.public_key(), serial=random_serial(), not_before=T_ROOT,
        not_after=T_ROOT_END - timedelta(days=1)), key)
    return Authority(key, cert, auth_key, auth_cert, responder_key, responder)


@dataclass
class Holder:
    """A resident with an open card: the signer goes through the card's APDUs."""

    card: Card
    cert: x509.Certificate
    signer: DigestSigner


def make_holder(authority: Authority, folder: Path, *, family: str = "髙橋", given: str = "太郎",
                issuance_id: str = "S2026-0001") -> Holder:
    path = folder / "card.img"
    with VirtualCard.create(path, SEAL_KEY, auth_pin=AUTH_PIN,
                            signing_password=SIGN_PASSWORD) as virtual:
        cert = authority.issue_signing(virtual.public_key("sign"), family=family, given=given,
                                       issuance_id=issuance_id)
        auth = authority.issue_auth(virtual.public_key("auth"))
        der = serialization.Encoding.DER
        virtual.install_certificates(
            auth_cert=auth.public_bytes(der), auth_ca_cert=authority.auth_cert.public_bytes(der),
            sign_cert=cert.public_bytes(der), sign_ca_cert=authority.cert.public_bytes(der))
    card = Card.open(path, SEAL_KEY)
    assert card.read_certificate("sign", SIGN_PASSWORD) == cert
    return Holder(card, cert, card_signer(card, SIGN_PASSWORD))


@dataclass
class Evidence:
    """A revocation source double: OCSP responses by serial, and CRLs for everyone."""

    responses: Mapping[int, bytes] = field(default_factory=dict)
    crl_list: Sequence[bytes] = ()
    asked: list[tuple[int, bytes]] = field(default_factory=list)
    crl_requests: int = 0

    def ocsp_response(self, cert: x509.Certificate, issuer: x509.Certificate) -> bytes | None:
        self.asked.append((cert.serial_number, issuer.fingerprint(hashes.SHA256())))
        return self.responses.get(cert.serial_number)

    def crls(self, cert: x509.Certificate) -> list[bytes]:
        self.crl_requests += 1
        return list(self.crl_list)


def good(authority: Authority, *certs: x509.Certificate, at: datetime = AT) -> Evidence:
    return Evidence({cert.serial_number: authority.ocsp(cert, at=at) for cert in certs})


def xmlsec1() -> str:
    """The xmlsec1 binary (installed with apt-get when missing)."""
    return tool("xmlsec1")


def xmlsec1_verify(document: bytes, root: x509.Certificate, folder: Path, n: int = 1,
                   at: datetime = AT) -> subprocess.CompletedProcess[str]:
    """``xmlsec1 --verify`` of the n-th signature with ``root`` trusted, as NOTES.md gives it."""
    (folder / "signed.xml").write_bytes(document)
    (folder / "root.pem").write_bytes(pem(root))
    return subprocess.run([
        xmlsec1(), "--verify", "--trusted-pem", str(folder / "root.pem"),
        "--id-attr:id", "CONTENTS", "--enabled-reference-uris", "same-doc",
        "--enabled-key-data", "x509", "--verification-time", at.strftime("%Y-%m-%d %H:%M:%S"),
        "--node-xpath", SIG_XPATH.format(ns=DS_NS, n=n), str(folder / "signed.xml"),
    ], capture_output=True, text=True, check=False)


# -- fixtures --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def accountant(authority: Authority,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Holder]:
    opened = make_holder(authority, tmp_path_factory.mktemp("card2"), family="佐藤",
                         given="花子", issuance_id="S2026-0002")
    yield opened
    opened.card.close()


@pytest.fixture(scope="module")
def signed(holder: Holder) -> bytes:
    return sign_xml(EXAMPLE, holder.signer, holder.cert)


def _verify(document: bytes, authority: Authority, evidence: RevocationEvidence,
            at: datetime = AT, trust: TrustStore | None = None) -> Report:
    return verify_xml(document, trust=trust or authority.trust, evidence=evidence, at=at)


def _tree(document: bytes) -> etree._Element:
    return etree.fromstring(document)


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, encoding="UTF-8")  # ASCII would break Japanese element names


def _only(report: Report) -> tuple[Indication, SubIndication | None]:
    (signature,) = report.signatures
    return signature.indication, signature.sub_indication


# -- pass, and the report --------------------------------------------------------------------------

def test_a_card_signature_passes(signed: bytes, authority: Authority, holder: Holder) -> None:
    evidence = good(authority, holder.cert)
    report = _verify(signed, authority, evidence)
    assert _only(report) == (Indication.TOTAL_PASSED, None)
    assert report.indication is Indication.TOTAL_PASSED
    (signature,) = report.signatures
    assert signature.signer is not None
    assert signature.signer.serial == holder.cert.serial_number
    assert evidence.asked == [(holder.cert.serial_number, authority.cert.fingerprint(
        hashes.SHA256()))]
    assert [e.type for e in signature.revocation] == ["ocsp"]
    assert signature.revocation[0].cert_status == "good"
    assert signature.basic_four is not None
    assert signature.basic_four.name == "高橋　太郎"  # 髙 is outside JIS X 0208: substituted


def test_report_json_is_stable_and_leaves_out_the_basic_four(
        signed: bytes, authority: Authority, holder: Holder) -> None:
    report = _verify(signed, authority, good(authority, holder.cert))
    plain = json.loads(report.to_json())
    assert list(plain) == ["schema", "format", "validation_time", "indication", "signatures"]
    assert plain["schema"] == "jpki-verification-report/1"
    assert plain["format"] == "xml" and plain["validation_time"] == "2026-05-01T03:00:00Z"
    (entry,) = plain["signatures"]
    assert list(entry) == ["index", "indication", "sub_indication", "message", "signer",
                           "signed_data_digest", "revocation"]
    assert entry["indication"] == "TOTAL_PASSED" and entry["sub_indication"] is None
    aki = holder.cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier is not None
    assert entry["signer"]["serial"] == str(holder.cert.serial_number)
    assert entry["signer"]["issuer_key_id"] == aki.key_identifier.hex()
    assert entry["signer"]["issuer"] == authority.cert.subject.rfc4514_string()
    assert entry["signed_data_digest"]["algorithm"] == "sha256"
    (evidence,) = entry["revocation"]
    assert evidence["type"] == "ocsp" and evidence["cert_status"] == "good"
    assert evidence["this_update"] == "2026-05-01T02:00:00Z"
    assert "高橋" not in report.to_json()
    entitled = json.loads(report.to_json(include_basic_four=True))["signatures"][0]
    assert entitled["basic_four"] == {
        "name": "高橋　太郎", "name_flags": "10000", "sex": 1, "birth_date": "319750315",
        "address": "埼玉県所沢市並木１−１−１", "address_flags": "0" * 13,
    }


def test_only_the_signed_bytes_are_handed_on(signed: bytes, authority: Authority,
                                             holder: Holder) -> None:
    """A comment added after signing does not break the signature and is not handed on."""
    tampered = signed.replace("<備考>".encode(), "<備考><!-- 追記 -->".encode())
    report = _verify(tampered, authority, good(authority, holder.cert))
    (signature,) = report.signatures
    assert signature.passed
    assert signature.signed_data is not None
    assert "追記".encode() not in signature.signed_data
    assert "髙橋　太郎".encode() in signature.signed_data  # the form keeps the register's name


def test_two_parallel_signatures(signed: bytes, authority: Authority, holder: Holder,
                                 accountant: Holder) -> None:
    both = sign_xml(signed, accountant.signer, accountant.cert)
    report = _verify(both, authority, good(authority, holder.cert, accountant.cert))
    assert [s.indication for s in report.signatures] == [Indication.TOTAL_PASSED] * 2
    assert [s.signer.serial for s in report.signatures if s.signer] == [
        holder.cert.serial_number, accountant.cert.serial_number]
    assert report.signatures[0].signed_data == report.signatures[1].signed_data
    # one of two revoked: that one fails, the other still passes, the document fails
    evidence = good(authority, holder.cert)
    evidence.responses = {**evidence.responses, accountant.cert.serial_number: authority.ocsp(
        accountant.cert, status="revoked", revoked_at=AT - timedelta(days=1),
        reason=x509.ReasonFlags.key_compromise)}
    report = _verify(both, authority, evidence)
    assert [s.sub_indication for s in report.signatures] == [None, SubIndication.REVOKED]
    assert report.indication is Indication.TOTAL_FAILED


# -- every sub-indication from a real case ---------------------------------------------------------

def test_tampered_content_is_a_hash_failure(signed: bytes, authority: Authority,
                                            holder: Holder) -> None:
    tampered = signed.replace(b">6500000<", b">650000<")
    assert tampered != signed
    report = _verify(tampered, authority, good(authority, holder.cert))
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)
    assert report.signatures[0].signed_data is None


def test_another_holders_certificate_is_a_crypto_failure(
        signed: bytes, authority: Authority, holder: Holder, accountant: Holder) -> None:
    """The certificate in KeyInfo swapped for another card's: the key does not match."""
    root = etree.fromstring(signed)
    element = root.find(f".//{{{DS_NS}}}X509Certificate")
    assert element is not None
    element.text = "".join(pem(accountant.cert).decode().splitlines()[1:-1])
    swapped = _bytes(root)
    report = _verify(swapped, authority, good(authority, holder.cert, accountant.cert))
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)


def test_a_damaged_signature_value_is_a_crypto_failure(
        signed: bytes, authority: Authority, holder: Holder) -> None:
    root = etree.fromstring(signed)
    value = root.find(f".//{{{DS_NS}}}SignatureValue")
    assert value is not None and value.text is not None
    value.text = ("A" if value.text[0] != "A" else "B") + value.text[1:]
    report = _verify(_bytes(root), authority, good(authority, holder.cert))
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)


def test_unknown_root(signed: bytes, authority: Authority, holder: Holder) -> None:
    stranger = make_authority()
    report = _verify(signed, authority, good(authority, holder.cert), trust=stranger.trust)
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND)


def test_no_evidence_is_never_a_pass(signed: bytes, authority: Authority) -> None:
    report = _verify(signed, authority, NoEvidence())
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    assert report.signatures[0].revocation == ()


def test_an_unavailable_source_is_try_later(signed: bytes, authority: Authority) -> None:
    class Down:
        def ocsp_response(self, cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
            raise EvidenceUnavailable("the revocation service is restarting")

        def crls(self, cert: x509.Certificate) -> list[bytes]:
            raise EvidenceUnavailable("the revocation service is restarting")

    report = _verify(signed, authority, Down())
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    assert "restarting" in report.signatures[0].message


def test_stale_evidence_is_try_later(signed: bytes, authority: Authority,
                                     holder: Holder) -> None:
    stale = good(authority, holder.cert, at=AT - timedelta(days=2))
    report = _verify(signed, authority, stale)
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)


def test_evidence_for_someone_else_is_no_evidence(signed: bytes, authority: Authority,
                                                  holder: Holder, accountant: Holder) -> None:
    wrong = Evidence({holder.cert.serial_number: authority.ocsp(accountant.cert)})
    report = _verify(signed, authority, wrong)
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)


def test_unreadable_evidence_is_no_evidence(signed: bytes, authority: Authority,
                                            holder: Holder) -> None:
    junk = Evidence({holder.cert.serial_number: b"\x30\x03garbage"}, [b"not a CRL"])
    report = _verify(signed, authority, junk)
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    assert report.signatures[0].revocation == ()


def test_revoked_by_ocsp_after_a_relocation(signed: bytes, authority: Authority,
                                            holder: Holder) -> None:
    """The basic four changed: the revocation service answers revoked (affiliationChanged)."""
    revoked_at = AT - timedelta(hours=3)
    evidence = Evidence({holder.cert.serial_number: authority.ocsp(
        holder.cert, status="revoked", revoked_at=revoked_at,
        reason=x509.ReasonFlags.affiliation_changed)})
    report = _verify(signed, authority, evidence)
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
    (used,) = report.signatures[0].revocation
    assert (used.type, used.cert_status, used.reason) == ("ocsp", "revoked",
                                                         "affiliation_changed")
    assert used.revoked_at == revoked_at


def test_revoked_by_a_partition_crl(signed: bytes, authority: Authority, holder: Holder) -> None:
    crl = authority.crl([(holder.cert, AT - timedelta(days=1), x509.ReasonFlags.key_compromise)])
    report = _verify(signed, authority, Evidence(crl_list=[crl]))
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
    (used,) = report.signatures[0].revocation
    assert (used.type, used.cert_status, used.reason) == ("crl", "revoked", "key_compromise")


def test_a_crl_that_does_not_list_it_passes(signed: bytes, authority: Authority) -> None:
    report = _verify(signed, authority, Evidence(crl_list=[authority.crl()]))
    assert _only(report) == (Indication.TOTAL_PASSED, None)
    assert [(e.type, e.cert_status) for e in report.signatures[0].revocation] == [("crl", "good")]


def test_crls_are_a_fallback_for_ocsp(signed: bytes, authority: Authority,
                                      holder: Holder) -> None:
    fresh = good(authority, holder.cert)
    fresh.crl_list = [authority.crl()]
    assert _only(_verify(signed, authority, fresh))[0] is Indication.TOTAL_PASSED
    assert fresh.crl_requests == 0
    assert [e.type for e in _verify(signed, authority, fresh).signatures[0].revocation] == [
        "ocsp"]
    stale = good(authority, holder.cert, at=AT - timedelta(days=2))
    stale.crl_list = [authority.crl()]
    report = _verify(signed, authority, stale)
    assert _only(report) == (Indication.TOTAL_PASSED, None)
    assert stale.crl_requests == 1
    assert [e.type for e in report.signatures[0].revocation] == ["ocsp", "crl"]


def test_the_validation_time_must_be_aware(signed: bytes, authority: Authority) -> None:
    with pytest.raises(ValueError, match="aware"):
        _verify(signed, authority, NoEvidence(), at=AT.replace(tzinfo=None))


def test_a_held_card_cannot_sign(signed: bytes, authority: Authority, holder: Holder) -> None:
    """A lost card is put on hold, never released (as in JPKI)."""
    evidence = Evidence({holder.cert.serial_number: authority.ocsp(
        holder.cert, status="revoked", revoked_at=AT - timedelta(hours=2),
        reason=x509.ReasonFlags.certificate_hold, delegated=False)})
    report = _verify(signed, authority, evidence)
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
    assert report.signatures[0].revocation[0].reason == "certificate_hold"


def test_expired_by_the_clock(signed: bytes, authority: Authority, holder: Holder) -> None:
    later = holder.cert.not_valid_after_utc + timedelta(days=1)
    report = _verify(signed, authority, good(authority, holder.cert, at=later), at=later)
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.EXPIRED)


def test_not_yet_valid(signed: bytes, authority: Authority, holder: Holder) -> None:
    earlier = holder.cert.not_valid_before_utc - timedelta(days=1)
    report = _verify(signed, authority, good(authority, holder.cert, at=earlier), at=earlier)
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.NOT_YET_VALID)


def test_an_authentication_certificate_does_not_sign(authority: Authority,
                                                     tmp_path: Path) -> None:
    """Even with the authentication root trusted: wrong key usage and policy for a signature."""
    key = new_key()
    cert = authority.issue_auth(key.public_key())
    document = sign_xml(EXAMPLE, key_signer(key), cert)
    trust = TrustStore((authority.cert, authority.auth_cert))
    evidence = Evidence({cert.serial_number: _auth_ocsp(authority, cert)})
    report = _verify(document, authority, evidence, trust=trust)
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE)
    relaxed = TrustStore((authority.auth_cert,), key_usage=frozenset({"digital_signature"}))
    report = _verify(document, authority, evidence, trust=relaxed)
    assert _only(report) == (Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE)
    assert "policy" in report.signatures[0].message
    login = TrustStore((authority.auth_cert,), key_usage=frozenset({"digital_signature"}),
                       policies=frozenset({oids.POLICY_AUTHENTICATION}))
    assert _only(_verify(document, authority, evidence, trust=login))[0] is (
        Indication.TOTAL_PASSED)


def _auth_ocsp(authority: Authority, cert: x509.Certificate) -> bytes:
    return ocsp.OCSPResponseBuilder().add_response(
        cert=cert, issuer=authority.auth_cert, algorithm=hashes.SHA256(),
        cert_status=ocsp.OCSPCertStatus.GOOD, this_update=AT - timedelta(hours=1),
        next_update=AT + timedelta(hours=23), revocation_time=None, revocation_reason=None,
    ).responder_id(ocsp.OCSPResponderEncoding.HASH, authority.auth_cert).sign(
        authority.auth_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def test_a_new_generation_through_a_link_certificate(authority: Authority) -> None:
    """A verifier that trusts only the old root accepts a leaf of the new generation."""
    new_key_ = new_key()
    new_root = sign(root_certificate(CertKind.SIGNING, new_key_.public_key(),
                                     serial=random_serial(), not_before=T_ROOT,
                                     not_after=T_ROOT_END), new_key_)
    link = sign(new_with_old(authority.cert, new_key_.public_key(), serial=random_serial(),
                             not_before=T_ROOT, not_after=T_ROOT_END), authority.key)
    generation = Authority(new_key_, new_root, authority.auth_key, authority.auth_cert,
                           new_key_, new_root)
    leaf_key = new_key()
    leaf = generation.issue_signing(leaf_key.public_key())
    document = sign_xml(EXAMPLE, key_signer(leaf_key), leaf)
    evidence = Evidence({leaf.serial_number: generation.ocsp(leaf, delegated=False)})
    with_link = TrustStore((authority.cert,), links=(link,))
    assert _only(_verify(document, authority, evidence, trust=with_link)) == (
        Indication.TOTAL_PASSED, None)
    without = TrustStore((authority.cert,))
    assert _only(_verify(document, authority, evidence, trust=without))[1] is (
        SubIndication.NO_CERTIFICATE_CHAIN_FOUND)


# -- signature wrapping ----------------------------------------------------------------------------

FORGED = "<CONTENTS><申告書><税額><申告納税額>-9999999</申告納税額></税額></申告書></CONTENTS>"


def _genuine(root: etree._Element) -> etree._Element:
    found = root.find("CONTENTS")
    assert found is not None
    return found


def _wrap_forged_first(root: etree._Element) -> None:
    """Forged CONTENTS without id where a reader looks; the genuine one inside a wrapper."""
    genuine = _genuine(root)
    wrapper = etree.Element("Wrapper")
    root.replace(genuine, wrapper)
    wrapper.append(genuine)
    root.insert(0, etree.fromstring(FORGED.encode()))


def _wrap_inside_object(root: etree._Element) -> None:
    """The genuine CONTENTS moved into a ds:Object of the signature; a forged one in its place."""
    genuine = _genuine(root)
    signature = root.find(f"{{{DS_NS}}}Signature")
    assert signature is not None
    root.replace(genuine, etree.fromstring(FORGED.encode()))
    obj = etree.SubElement(signature, f"{{{DS_NS}}}Object")
    obj.append(genuine)


def _wrap_second_contents(root: etree._Element) -> None:
    """A second, forged CONTENTS after the genuine one (a reader taking the last one)."""
    root.append(etree.fromstring(FORGED.encode()))


def _wrap_other_id_attribute(root: etree._Element) -> None:
    """The genuine content keeps the id under another name (Id), the forged one takes id."""
    genuine = _genuine(root)
    del genuine.attrib["id"]
    genuine.set("Id", "CONTENTS")
    wrapper = etree.SubElement(root, "Wrapper")
    root.replace(genuine, etree.fromstring(FORGED.replace(
        "<CONTENTS>", '<CONTENTS id="CONTENTS">').encode()))
    wrapper.append(genuine)


def _wrap_namespaced_decoy(root: etree._Element) -> None:
    """The genuine CONTENTS renamed into a namespace a reader ignores; a forged one in place."""
    genuine = _genuine(root)
    genuine.tag = "{urn:decoy}CONTENTS"
    root.insert(0, etree.fromstring(FORGED.encode()))


def _wrap_signature_in_contents(root: etree._Element) -> None:
    """The signature moved inside CONTENTS (enveloped-signature would cut it out)."""
    signature = root.find(f"{{{DS_NS}}}Signature")
    assert signature is not None
    _genuine(root).append(signature)


def _wrap_duplicate_id_inside(root: etree._Element) -> None:
    """A forged element with the same id nested inside the genuine CONTENTS."""
    etree.SubElement(_genuine(root), "申告納税額", id="CONTENTS").text = "-9999999"


def _wrap_namespaced_root(root: etree._Element) -> None:
    """The whole document moved under a root in a namespace."""
    root.tag = "{urn:decoy}DATA"


def _wrap_xml_id(root: etree._Element) -> None:
    """A forged element claiming the id through xml:id."""
    forged = etree.fromstring(FORGED.encode())[0]
    forged.set("{http://www.w3.org/XML/1998/namespace}id", "CONTENTS")
    _genuine(root).append(forged)


WRAPPING = [_wrap_forged_first, _wrap_inside_object, _wrap_second_contents,
            _wrap_other_id_attribute, _wrap_namespaced_decoy, _wrap_signature_in_contents,
            _wrap_duplicate_id_inside, _wrap_namespaced_root, _wrap_xml_id]


@pytest.mark.parametrize("attack", WRAPPING, ids=[f.__name__[6:] for f in WRAPPING])
def test_signature_wrapping_is_refused(attack: object, signed: bytes, authority: Authority,
                                       holder: Holder) -> None:
    root = _tree(signed)
    attack(root)  # type: ignore[operator]
    document = _bytes(root)
    with pytest.raises(MalformedDocument):
        _verify(document, authority, good(authority, holder.cert))


def test_another_reference_uri_is_a_format_failure(signed: bytes, authority: Authority,
                                                   holder: Holder) -> None:
    root = _tree(signed)
    reference = root.find(f".//{{{DS_NS}}}Reference")
    assert reference is not None
    reference.set("URI", "")
    report = _verify(_bytes(root), authority, good(authority, holder.cert))
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)


class _Utf8Signer(Utf8Serialisation, XMLSigner):
    """signxml's own signer, only made to copy trees as UTF-8 (Japanese element names)."""


class _Utf8Verifier(Utf8Serialisation, XMLVerifier):
    """signxml's own verifier, only made to copy trees as UTF-8."""


def _off_profile(key: rsa.RSAPrivateKey, cert: x509.Certificate, **options: Any) -> bytes:
    """A correctly signed document that uses something the profile does not allow."""
    root = etree.fromstring(EXAMPLE)
    reference = options.pop("reference", SignatureReference("#CONTENTS"))
    signer = _Utf8Signer(**options)
    signed = signer.sign(root, key=key, cert=[cert], reference_uri=[reference],
                         id_attribute="id", always_add_key_value=bool(options.pop("kv", False)))
    return etree.tostring(signed, encoding="UTF-8")


@pytest.mark.parametrize("options", [
    {"c14n_algorithm": CanonicalizationMethod.CANONICAL_XML_1_1},
    {"c14n_algorithm": CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0},
    {"c14n_algorithm": CanonicalizationMethod.CANONICAL_XML_1_0_WITH_COMMENTS},
    {"c14n_algorithm": CanonicalizationMethod.CANONICAL_XML_1_0,
     "signature_algorithm": SignatureMethod.RSA_SHA512},
    {"c14n_algorithm": CanonicalizationMethod.CANONICAL_XML_1_0,
     "reference": SignatureReference(
         "#CONTENTS", c14n_method=CanonicalizationMethod.EXCLUSIVE_XML_CANONICALIZATION_1_0)},
], ids=["c14n-1.1", "exclusive-c14n", "with-comments", "rsa-sha512", "reference-exc-c14n"])
def test_correct_but_off_profile_signatures_are_format_failures(
        options: dict[str, Any], authority: Authority) -> None:
    key = new_key()
    cert = authority.issue_signing(key.public_key())
    document = _off_profile(key, cert, **options)
    report = _verify(document, authority, good(authority, cert))
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)


def test_a_key_value_beside_the_certificate_is_refused(authority: Authority) -> None:
    key = new_key()
    cert = authority.issue_signing(key.public_key())
    root = etree.fromstring(sign_xml(EXAMPLE, key_signer(key), cert))
    key_info = root.find(f".//{{{DS_NS}}}KeyInfo")
    assert key_info is not None
    etree.SubElement(key_info, f"{{{DS_NS}}}KeyName").text = "alice"
    report = _verify(_bytes(root), authority, good(authority, cert))
    assert _only(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)


def test_signxml_alone_is_fooled_by_a_wrapped_document(signed: bytes, holder: Holder) -> None:
    """Why the shape checks exist: the bare library accepts the second-CONTENTS variant."""
    root = _tree(signed)
    _wrap_second_contents(root)
    config = SignatureConfiguration(location="./", verification_time=AT)
    result = _Utf8Verifier().verify(root, x509_cert=holder.cert, id_attribute="id",
                                  expect_config=config)
    assert not isinstance(result, list)
    assert result.signed_xml is not None  # signature OK; a careless reader takes the forgery


# -- hostile XML -----------------------------------------------------------------------------------

HOSTILE = {
    "billion laughs": b'<?xml version="1.0"?><!DOCTYPE DATA [<!ENTITY a "aaaaaaaaaa">'
                      b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
                      b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>'
                      b'<DATA><CONTENTS id="CONTENTS">&c;</CONTENTS></DATA>',
    "external entity": b'<?xml version="1.0"?><!DOCTYPE DATA [<!ENTITY x SYSTEM '
                       b'"file:///etc/passwd">]><DATA><CONTENTS id="CONTENTS">&x;'
                       b'</CONTENTS></DATA>',
    "external DTD": b'<?xml version="1.0"?><!DOCTYPE DATA SYSTEM "http://127.0.0.1:9/x.dtd">'
                    b'<DATA><CONTENTS id="CONTENTS"/></DATA>',
    "parameter entity": b'<?xml version="1.0"?><!DOCTYPE DATA [<!ENTITY % p SYSTEM '
                        b'"http://127.0.0.1:9/p">%p;]><DATA><CONTENTS id="CONTENTS"/></DATA>',
    "not XML": b"%PDF-1.7 not a submission",
    "empty": b"",
    "xml:lang on the root": b'<DATA xml:lang="ja"><CONTENTS id="CONTENTS"/></DATA>',
    "xml:space on the root": b'<DATA xml:space="preserve"><CONTENTS id="CONTENTS"/></DATA>',
    "no signature": b'<DATA><CONTENTS id="CONTENTS"/></DATA>',
    "other root": b'<FORM><CONTENTS id="CONTENTS"/></FORM>',
    "text in DATA": b'<DATA>note<CONTENTS id="CONTENTS"/></DATA>',
}


@pytest.mark.parametrize("document", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_documents_are_refused(document: bytes, authority: Authority) -> None:
    with pytest.raises(MalformedDocument):
        _verify(document, authority, NoEvidence())


def test_size_and_depth_are_bounded(signed: bytes, authority: Authority) -> None:
    with pytest.raises(MalformedDocument, match="larger than"):
        verify_xml(signed, trust=authority.trust, evidence=NoEvidence(), at=AT,
                   limits=Limits(max_bytes=len(signed) - 1))
    deep = b"<DATA><CONTENTS id='CONTENTS'>" + b"<a>" * 70 + b"</a>" * 70 + b"</CONTENTS></DATA>"
    with pytest.raises(MalformedDocument, match="deeper"):
        _verify(deep, authority, NoEvidence())
    assert _only(_verify(signed, authority, NoEvidence()))[1] is SubIndication.TRY_LATER


def test_the_number_of_signatures_is_bounded(signed: bytes, authority: Authority,
                                             holder: Holder) -> None:
    limits = Limits(max_signatures=1)
    with pytest.raises(MalformedDocument, match="already carries"):
        sign_xml(signed, holder.signer, holder.cert, limits=limits)
    twice = sign_xml(signed, holder.signer, holder.cert)
    with pytest.raises(MalformedDocument, match="more than 1 signatures"):
        verify_xml(twice, trust=authority.trust, evidence=NoEvidence(), at=AT, limits=limits)


def test_a_huge_document_does_not_reach_the_parser(authority: Authority) -> None:
    huge = b"<DATA>" + b" " * (10 * 1024 * 1024) + b"</DATA>"
    with pytest.raises(MalformedDocument, match="larger than"):
        _verify(huge, authority, NoEvidence())


def test_verification_does_not_modify_the_input(signed: bytes, authority: Authority,
                                                holder: Holder) -> None:
    before = copy.copy(signed)
    _verify(signed, authority, good(authority, holder.cert))
    assert signed == before
