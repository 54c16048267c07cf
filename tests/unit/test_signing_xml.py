"""XML submissions signed on the card: the format, parallel signers, and xmlsec1 both ways."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from lxml import etree

from pki.card import WrongPin
from pki.signing import MalformedDocument, SigningError, card_signer, key_signer
from pki.signing.xml import (
    C14N_1_0,
    DS_NS,
    ENVELOPED,
    RSA_SHA256,
    SHA256_URI,
    _DigestSignerKey,
    canonical_contents,
    parse_submission,
    sign_xml,
)
from pki.verify import Indication, verify_xml
from tests.unit.test_verify import (
    AT,
    EXAMPLE,
    Authority,
    Holder,
    good,
    make_authority,
    make_holder,
    new_key,
    pem,
    xmlsec1,
    xmlsec1_verify,
)

DS = f"{{{DS_NS}}}"


@pytest.fixture(scope="module")
def accountant(authority: Authority,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Holder]:
    """A tax accountant (税理士) who co-signs the return with their own card."""
    opened = make_holder(authority, tmp_path_factory.mktemp("card2"), family="佐藤",
                         given="花子", issuance_id="S2026-0002")
    yield opened
    opened.card.close()


@pytest.fixture(scope="module")
def signed(holder: Holder) -> bytes:
    return sign_xml(EXAMPLE, holder.signer, holder.cert)


@pytest.fixture(scope="module")
def cosigned(signed: bytes, accountant: Holder) -> bytes:
    return sign_xml(signed, accountant.signer, accountant.cert)


def _algorithms(signature: etree._Element) -> list[str | None]:
    return [element.get("Algorithm") for element in signature.iter()
            if element.get("Algorithm") is not None]


def test_the_example_is_a_submission() -> None:
    submission = parse_submission(EXAMPLE, require_signature=False)
    assert submission.signatures == []
    assert "確定申告書B" in canonical_contents(submission.contents).decode()


def test_signature_format(signed: bytes, holder: Holder) -> None:
    submission = parse_submission(signed)
    (signature,) = submission.signatures
    assert signature.getparent() is submission.root
    assert _algorithms(signature) == [C14N_1_0, RSA_SHA256, ENVELOPED, C14N_1_0, SHA256_URI]
    (reference,) = signature.iter(f"{DS}Reference")
    assert reference.get("URI") == "#CONTENTS"
    (certificate,) = signature.iter(f"{DS}X509Certificate")
    assert base64.b64decode("".join((certificate.text or "").split())) == (
        holder.cert.public_bytes(serialization.Encoding.DER))
    assert signed.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert "<申告書".encode() in signed  # Japanese element names survive signxml


def test_the_signature_is_made_on_the_card(signed: bytes, holder: Holder) -> None:
    """The SignatureValue is the card key's PKCS#1 v1.5 signature of the canonical SignedInfo."""
    submission = parse_submission(signed)
    (signature,) = submission.signatures
    (signed_info,) = signature.iter(f"{DS}SignedInfo")
    (value,) = signature.iter(f"{DS}SignatureValue")
    canonical = etree.tostring(signed_info, method="c14n")
    public_key = holder.card.public_key("sign")
    public_key.verify(base64.b64decode(value.text or ""), canonical, padding.PKCS1v15(),
                      hashes.SHA256())
    assert public_key == holder.cert.public_key()


def test_a_second_signer_adds_a_sibling(signed: bytes, cosigned: bytes, authority: Authority,
                                        holder: Holder, accountant: Holder) -> None:
    first, second = parse_submission(cosigned).signatures
    assert etree.tostring(first, method="c14n") == etree.tostring(
        parse_submission(signed).signatures[0], method="c14n")
    assert second.getprevious() is first
    report = verify_xml(cosigned, trust=authority.trust, at=AT,
                        evidence=good(authority, holder.cert, accountant.cert))
    assert [s.indication for s in report.signatures] == [Indication.TOTAL_PASSED] * 2


def test_xmlsec1_accepts_every_signature(cosigned: bytes, authority: Authority,
                                         tmp_path: Path) -> None:
    for n in (1, 2):
        result = xmlsec1_verify(cosigned, authority.cert, tmp_path, n)
        assert result.returncode == 0, result.stderr
        assert "OK" in result.stderr + result.stdout


def test_xmlsec1_refuses_tampered_content(signed: bytes, authority: Authority,
                                          tmp_path: Path) -> None:
    tampered = signed.replace(b">6500000<", b">6500001<")
    assert xmlsec1_verify(tampered, authority.cert, tmp_path).returncode != 0


def test_xmlsec1_refuses_an_unknown_root(signed: bytes, tmp_path: Path) -> None:
    assert xmlsec1_verify(signed, make_authority().cert, tmp_path).returncode != 0


def test_a_namespace_on_the_root_keeps_both_tools_in_step(authority: Authority, holder: Holder,
                                                          tmp_path: Path) -> None:
    """Inclusive C14N carries DATA's namespace declarations into CONTENTS: both must agree."""
    document = EXAMPLE.replace(b"<DATA>", b'<DATA xmlns:etax="urn:example:etax">')
    signed = sign_xml(document, holder.signer, holder.cert)
    assert xmlsec1_verify(signed, authority.cert, tmp_path).returncode == 0
    report = verify_xml(signed, trust=authority.trust, at=AT,
                        evidence=good(authority, holder.cert))
    assert report.indication is Indication.TOTAL_PASSED


def _template() -> bytes:
    """An unsigned signature of our profile for ``xmlsec1 --sign`` to fill in."""
    root = etree.fromstring(EXAMPLE)
    signature = etree.SubElement(root, f"{DS}Signature", nsmap={"ds": DS_NS})
    signed_info = etree.SubElement(signature, f"{DS}SignedInfo")
    etree.SubElement(signed_info, f"{DS}CanonicalizationMethod", Algorithm=C14N_1_0)
    etree.SubElement(signed_info, f"{DS}SignatureMethod", Algorithm=RSA_SHA256)
    reference = etree.SubElement(signed_info, f"{DS}Reference", URI="#CONTENTS")
    transforms = etree.SubElement(reference, f"{DS}Transforms")
    etree.SubElement(transforms, f"{DS}Transform", Algorithm=ENVELOPED)
    etree.SubElement(transforms, f"{DS}Transform", Algorithm=C14N_1_0)
    etree.SubElement(reference, f"{DS}DigestMethod", Algorithm=SHA256_URI)
    etree.SubElement(reference, f"{DS}DigestValue")
    etree.SubElement(signature, f"{DS}SignatureValue")
    key_info = etree.SubElement(signature, f"{DS}KeyInfo")
    etree.SubElement(key_info, f"{DS}X509Data")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def test_we_accept_a_signature_made_by_xmlsec1(authority: Authority, tmp_path: Path) -> None:
    """Independent signer: xmlsec1 with a test key and a certificate issued by our CA."""
    key = new_key()
    cert = authority.issue_signing(key.public_key(), issuance_id="S2026-XMLSEC")
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (tmp_path / "cert.pem").write_bytes(pem(cert))
    (tmp_path / "template.xml").write_bytes(_template())
    result = subprocess.run([
        xmlsec1(), "--sign", "--privkey-pem", f"{tmp_path / 'key.pem'},{tmp_path / 'cert.pem'}",
        "--id-attr:id", "CONTENTS", "--output", str(tmp_path / "out.xml"),
        str(tmp_path / "template.xml"),
    ], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    document = (tmp_path / "out.xml").read_bytes()
    report = verify_xml(document, trust=authority.trust, at=AT, evidence=good(authority, cert))
    assert report.indication is Indication.TOTAL_PASSED, report.to_json()
    # and signxml computes the same digest for the same content
    ours = sign_xml(EXAMPLE, key_signer(key), cert)
    digest = f"{DS}DigestValue"
    assert [e.text for e in etree.fromstring(document).iter(digest)] == [
        e.text for e in etree.fromstring(ours).iter(digest)]


def test_a_wrong_password_signs_nothing(holder: Holder) -> None:
    before = holder.card.tries_left("sign")
    with pytest.raises(WrongPin):
        sign_xml(EXAMPLE, card_signer(holder.card, "WRONG9"), holder.cert)
    holder.card.verify_pin("sign", "ABC123")  # restore the counter for the other tests
    assert holder.card.tries_left("sign") == before


def test_a_certificate_for_another_key_is_refused(holder: Holder, accountant: Holder) -> None:
    with pytest.raises(SigningError, match="does not match"):
        sign_xml(EXAMPLE, holder.signer, accountant.cert)


def test_the_card_key_does_nothing_but_sign(holder: Holder) -> None:
    key = _DigestSignerKey(holder.signer, holder.cert.public_key())  # type: ignore[arg-type]
    with pytest.raises(SigningError):
        key.sign(b"data", padding.PSS(padding.MGF1(hashes.SHA256()), 32), hashes.SHA256())
    with pytest.raises(SigningError):
        key.sign(b"data", padding.PKCS1v15(), hashes.SHA384())
    with pytest.raises(SigningError):
        key.private_numbers()
    with pytest.raises(SigningError):
        key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    assert key.key_size == 2048


@pytest.mark.parametrize("document", [
    b"<DATA/>",
    b'<DATA><CONTENTS id="OTHER"/></DATA>',
    b'<DATA><CONTENTS/></DATA>',
    b'<!DOCTYPE DATA><DATA><CONTENTS id="CONTENTS"/></DATA>',
    b'<DATA><CONTENTS id="CONTENTS"/><Extra/></DATA>',
], ids=["no contents", "wrong id", "no id", "doctype", "extra element"])
def test_only_submissions_are_signed(document: bytes, holder: Holder) -> None:
    with pytest.raises(MalformedDocument):
        sign_xml(document, holder.signer, holder.cert)
