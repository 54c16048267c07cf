"""Receipts (受付結果): every verification report carries one, signed by the service.

The receipt is a CMS SignedData with the JSON receipt attached, signed by a certificate our
signing CA issued: ``openssl cms -verify`` accepts it with nothing but the signing root, and its
digests are those of the document and of the report as served. The service key is made at the
first receipt and kept; ``jpki verify --receipt`` writes one too.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from flask.testing import FlaskClient
from sqlalchemy import select

from ca.authority import SERVICE_KIND
from ca.tables import IssuedCertificate
from pki.lint import Severity, lint_certificate
from pki.profile import CertificateProfile, CertKind
from tests.storage.conftest import Jpki
from tests.web.portal_helpers import Holder
from web.receipts import SCHEMA, open_receipt
from web.services import Services

RECEIPT = b',"receipt":"'


@pytest.fixture
def signed(jpki: Jpki, holder: Holder) -> Path:
    """The example tax return, signed with the holder's card."""
    form = holder.folder / "tax_return.xml"
    form.write_bytes(resources.files("pki").joinpath("signing/examples/tax_return.xml")
                     .read_bytes())
    out = holder.folder / "signed.xml"
    jpki("sign", str(form), "--card", str(holder.card), "--pin-file",
         str(holder.folder / "sign.pin"), "-o", str(out))
    return out


def _split(body: bytes) -> tuple[bytes, bytes]:
    """The report as it was digested (the body without its receipt key) and the receipt."""
    at = body.rindex(RECEIPT)
    assert body.endswith(b'"}')
    return body[:at] + b"}", base64.b64decode(body[at + len(RECEIPT):-2])


def _root_pem(services: Services, folder: Path) -> Path:
    """The signing CA's root, as a relying party downloads it."""
    path = folder / "sign-root.pem"
    root = services.ca.current(CertKind.SIGNING).certificate
    path.write_bytes(root.public_bytes(Encoding.PEM))
    return path


def _signer_of(receipt: bytes) -> bytes:
    """The DER of the certificate embedded in a receipt."""
    (certificate,) = cms.ContentInfo.load(receipt)["content"]["certificates"]
    return bytes(certificate.chosen.dump())


def _openssl_verify(receipt: bytes, root: Path, folder: Path) -> bytes:
    """``openssl cms -verify`` of a DER receipt against ``root``; returns the content."""
    assert shutil.which("openssl"), "openssl is needed for this interop test"
    der = folder / "receipt.der"
    der.write_bytes(receipt)
    done = subprocess.run(
        ["openssl", "cms", "-verify", "-inform", "DER", "-in", str(der), "-CAfile", str(root),
         "-binary"], capture_output=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert b"Verification successful" in done.stderr
    return done.stdout


def test_a_report_carries_a_receipt_that_openssl_accepts_with_the_signing_root(
        client: FlaskClient, services: Services, signed: Path, holder: Holder) -> None:
    document = signed.read_bytes()
    response = client.post("/api/v1/verify", data=document, content_type="application/xml")
    assert response.status_code == 200
    report_bytes, receipt = _split(response.data)
    report = json.loads(report_bytes)
    assert report["indication"] == "TOTAL_PASSED" and "receipt" not in report
    assert response.get_json()["receipt"] == base64.b64encode(receipt).decode()

    content = _openssl_verify(receipt, _root_pem(services, holder.folder), holder.folder)
    opened = json.loads(content)
    assert opened == open_receipt(receipt)
    assert opened["schema"] == SCHEMA and len(opened["receipt_id"]) == 32
    assert opened["received_at"] == report["validation_time"] == "2026-04-01T01:00:00Z"
    assert opened["format"] == "xml" and opened["signature_sha256"] is None
    assert opened["document_sha256"] == hashlib.sha256(document).hexdigest()
    assert opened["report_sha256"] == hashlib.sha256(report_bytes).hexdigest()
    assert opened["indication"] == "TOTAL_PASSED"
    assert opened["signatures"] == [{
        "index": 0, "issuer": report["signatures"][0]["signer"]["issuer"],
        "issuer_key_id": report["signatures"][0]["signer"]["issuer_key_id"],
        "serial": str(holder.signing.serial_number), "indication": "TOTAL_PASSED",
        "sub_indication": None}]


def test_each_submission_gets_its_own_receipt_from_one_kept_service_key(
        client: FlaskClient, services: Services, signed: Path, holder: Holder) -> None:
    tampered = signed.read_bytes().replace(b"6500000", b"9500000")
    first = _split(client.post("/api/v1/verify", data=signed.read_bytes(),
                               content_type="application/xml").data)[1]
    second_body, second = _split(client.post("/api/v1/verify", data=tampered,
                                             content_type="text/xml").data)
    one, two = open_receipt(first), open_receipt(second)
    assert one["receipt_id"] != two["receipt_id"]
    assert two["indication"] == "TOTAL_FAILED"
    assert two["signatures"][0]["sub_indication"] == "HASH_FAILURE"
    assert two["report_sha256"] == hashlib.sha256(second_body).hexdigest()
    assert two["document_sha256"] == hashlib.sha256(tampered).hexdigest()
    _openssl_verify(second, _root_pem(services, holder.folder), holder.folder)

    assert "sign-1-receipt" in services.keys.labels()
    certificates = {_signer_of(first), _signer_of(second)}
    assert len(certificates) == 1, "one service certificate for both receipts"
    (der,) = certificates
    certificate = x509.load_der_x509_certificate(der)
    root = services.ca.current(CertKind.SIGNING).certificate
    assert certificate.issuer == root.subject
    assert certificate.subject.rfc4514_string().startswith("CN=Verification Receipt Service")
    findings = lint_certificate(der, CertificateProfile.VERIFICATION_SERVICE)
    assert [f for f in findings if f.severity <= Severity.WARNING] == []
    # In the CA's append-only issued store, under its own kind (its OCSP status is good).
    status = client.get(f"/api/v1/certificates/sign-1/{certificate.serial_number}/status")
    assert status.status_code == 200 and status.get_json()["status"] == "good"
    with services.sessions() as session:
        kinds = list(session.scalars(select(IssuedCertificate.kind).where(
            IssuedCertificate.serial == str(certificate.serial_number))))
    assert kinds == [SERVICE_KIND]


def test_a_detached_cms_receipt_digests_the_content_and_the_signature(
        client: FlaskClient, jpki: Jpki, holder: Holder) -> None:
    content = holder.folder / "application.txt"
    content.write_text("申請書", "utf-8")
    signature = holder.folder / "application.p7s"
    jpki("sign", str(content), "--cms", "--card", str(holder.card), "--pin-file",
         str(holder.folder / "sign.pin"), "-o", str(signature))
    response = client.post("/api/v1/verify", content_type="multipart/form-data", data={
        "signature": (io.BytesIO(signature.read_bytes()), "application.p7s"),
        "content": (io.BytesIO(content.read_bytes()), "application.txt")})
    assert response.status_code == 200
    opened = open_receipt(_split(response.data)[1])
    assert opened["format"] == "cms" and opened["indication"] == "TOTAL_PASSED"
    assert opened["document_sha256"] == hashlib.sha256(content.read_bytes()).hexdigest()
    assert opened["signature_sha256"] == hashlib.sha256(signature.read_bytes()).hexdigest()


def test_jpki_verify_writes_the_receipt_of_the_printed_report(
        jpki: Jpki, services: Services, signed: Path, holder: Holder) -> None:
    out = holder.folder / "receipt.p7m"
    result = jpki("verify", str(signed), "--receipt", str(out))
    printed = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(printed) == 1
    opened = json.loads(_openssl_verify(out.read_bytes(), _root_pem(services, holder.folder),
                                        holder.folder))
    assert opened["report_sha256"] == hashlib.sha256(printed[0].encode()).hexdigest()
    assert opened["document_sha256"] == hashlib.sha256(signed.read_bytes()).hexdigest()
    assert opened["indication"] == json.loads(printed[0])["indication"] == "TOTAL_PASSED"
