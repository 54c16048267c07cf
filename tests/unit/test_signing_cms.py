"""Detached CMS signatures made on the card: openssl accepts them, and we accept openssl's."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from asn1crypto import cms, pem
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pki.signing import MalformedDocument
from pki.signing.cms import sign_cms
from pki.verify import Indication, NoEvidence, SubIndication, verify_cms
from tests.debian import tool
from tests.unit.test_verify import (
    AT,
    EXAMPLE,
    Authority,
    Evidence,
    Holder,
    good,
    new_key,
)
from tests.unit.test_verify import pem as pem_of

SIGNED_AT = AT - timedelta(minutes=5)


@pytest.fixture(scope="module")
def signature(holder: Holder) -> bytes:
    return sign_cms(EXAMPLE, holder.signer, holder.cert, signing_time=SIGNED_AT)


@pytest.fixture(scope="session")
def openssl() -> str:
    """The openssl binary (installed with apt-get when missing)."""
    return tool("openssl")


def _openssl_verify(openssl: str, folder: Path, signature: bytes, content: bytes,
                    root: x509.Certificate) -> subprocess.CompletedProcess[str]:
    (folder / "sig.p7s").write_bytes(signature)
    (folder / "content.xml").write_bytes(content)
    (folder / "root.pem").write_bytes(pem_of(root))
    return subprocess.run([
        openssl, "cms", "-verify", "-binary", "-inform", "DER", "-in", str(folder / "sig.p7s"),
        "-content", str(folder / "content.xml"), "-CAfile", str(folder / "root.pem"),
        "-attime", str(int(AT.timestamp())), "-out", str(folder / "out"),
    ], capture_output=True, text=True, check=False)


def test_openssl_accepts_the_card_signature(openssl: str, signature: bytes,
                                            authority: Authority, tmp_path: Path) -> None:
    result = _openssl_verify(openssl, tmp_path, signature, EXAMPLE, authority.cert)
    assert result.returncode == 0, result.stderr
    assert "Verification successful" in result.stderr
    assert (tmp_path / "out").read_bytes() == EXAMPLE


def test_openssl_refuses_other_content(openssl: str, signature: bytes, authority: Authority,
                                       tmp_path: Path) -> None:
    result = _openssl_verify(openssl, tmp_path, signature, EXAMPLE + b" ", authority.cert)
    assert result.returncode != 0


def test_the_signature_is_detached_cades(signature: bytes, holder: Holder) -> None:
    info = cms.ContentInfo.load(signature)
    signed_data = info["content"]
    assert signed_data["encap_content_info"]["content"].native is None
    (signer,) = signed_data["signer_infos"]
    attributes = {a["type"].native: a["values"][0] for a in signer["signed_attrs"]}
    assert attributes["signing_time"].native == SIGNED_AT
    assert "signing_certificate_v2" in attributes
    assert signer["digest_algorithm"]["algorithm"].native == "sha256"
    assert signer["signature_algorithm"].signature_algo == "rsassa_pkcs1v15"
    (cert,) = signed_data["certificates"]
    assert cert.chosen.dump() == holder.cert.public_bytes(serialization.Encoding.DER)


def test_round_trip(signature: bytes, authority: Authority, holder: Holder) -> None:
    report = verify_cms(signature, EXAMPLE, trust=authority.trust, at=AT,
                        evidence=good(authority, holder.cert))
    (result,) = report.signatures
    assert (result.indication, result.sub_indication) == (Indication.TOTAL_PASSED, None)
    assert result.signed_data == EXAMPLE
    assert report.to_dict()["format"] == "cms"


def test_pem_is_accepted(signature: bytes, authority: Authority, holder: Holder) -> None:
    armored = pem.armor("CMS", signature)
    report = verify_cms(armored, EXAMPLE, trust=authority.trust, at=AT,
                        evidence=good(authority, holder.cert))
    assert report.indication is Indication.TOTAL_PASSED


def test_other_content_is_a_hash_failure(signature: bytes, authority: Authority,
                                         holder: Holder) -> None:
    report = verify_cms(signature, EXAMPLE.replace(b"6500000", b"6500001"),
                        trust=authority.trust, at=AT, evidence=good(authority, holder.cert))
    assert report.signatures[0].sub_indication is SubIndication.HASH_FAILURE


def test_a_damaged_signature_is_a_crypto_failure(signature: bytes, authority: Authority,
                                                 holder: Holder) -> None:
    info = cms.ContentInfo.load(signature)
    signer = info["content"]["signer_infos"][0]
    value = bytearray(signer["signature"].native)
    value[10] ^= 0x01
    signer["signature"] = bytes(value)
    report = verify_cms(info.dump(force=True), EXAMPLE, trust=authority.trust, at=AT,
                        evidence=good(authority, holder.cert))
    assert report.signatures[0].sub_indication is SubIndication.SIG_CRYPTO_FAILURE


def test_revoked_and_no_evidence(signature: bytes, authority: Authority, holder: Holder) -> None:
    crl = authority.crl([(holder.cert, AT - timedelta(days=1),
                          x509.ReasonFlags.affiliation_changed)])
    report = verify_cms(signature, EXAMPLE, trust=authority.trust, at=AT,
                        evidence=Evidence(crl_list=[crl]))
    assert report.signatures[0].sub_indication is SubIndication.REVOKED
    report = verify_cms(signature, EXAMPLE, trust=authority.trust, at=AT, evidence=NoEvidence())
    assert (report.indication, report.signatures[0].sub_indication) == (
        Indication.INDETERMINATE, SubIndication.TRY_LATER)


def _openssl_sign(openssl: str, folder: Path, authority: Authority, *extra: str
                  ) -> tuple[bytes, x509.Certificate]:
    key = new_key()
    cert = authority.issue_signing(key.public_key(), issuance_id="S2026-OPENSSL")
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (folder / "cert.pem").write_bytes(pem_of(cert))
    (folder / "content.xml").write_bytes(EXAMPLE)
    subprocess.run([
        openssl, "cms", "-sign", "-binary", "-md", "sha256", "-in", str(folder / "content.xml"),
        "-signer", str(folder / "cert.pem"), "-inkey", str(folder / "key.pem"),
        "-outform", "DER", "-out", str(folder / "sig.p7s"), *extra,
    ], check=True, capture_output=True)
    return (folder / "sig.p7s").read_bytes(), cert


def test_we_accept_a_signature_made_by_openssl(openssl: str, authority: Authority,
                                               tmp_path: Path) -> None:
    signature, cert = _openssl_sign(openssl, tmp_path, authority)
    report = verify_cms(signature, EXAMPLE, trust=authority.trust, at=AT,
                        evidence=good(authority, cert))
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()


def test_a_signature_without_its_certificate(openssl: str, authority: Authority,
                                             tmp_path: Path) -> None:
    signature, cert = _openssl_sign(openssl, tmp_path, authority, "-nocerts")
    report = verify_cms(signature, EXAMPLE, trust=authority.trust, at=AT,
                        evidence=good(authority, cert))
    assert report.signatures[0].sub_indication is SubIndication.NO_SIGNING_CERTIFICATE_FOUND


def test_attached_and_malformed_signatures_are_refused(openssl: str, authority: Authority,
                                                       tmp_path: Path) -> None:
    attached, _ = _openssl_sign(openssl, tmp_path, authority, "-nodetach")
    for bad in (attached, b"", b"\x30\x03\x02\x01\x01", EXAMPLE):
        with pytest.raises(MalformedDocument):
            verify_cms(bad, EXAMPLE, trust=authority.trust, at=AT, evidence=NoEvidence())
    with pytest.raises(MalformedDocument, match="larger"):
        verify_cms(attached, EXAMPLE, trust=authority.trust, at=AT, evidence=NoEvidence(),
                   max_content=len(EXAMPLE) - 1)
