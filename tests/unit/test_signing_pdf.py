"""PAdES signatures made on the card: pyhanko's own validator accepts them, and so do we."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from io import BytesIO

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from reportlab.pdfgen import canvas

from pki.signing import MalformedDocument, SigningError
from pki.signing.pdf import Stamp, sign_pdf
from pki.verify import Indication, NoEvidence, SubIndication, verify_pdf
from tests.unit.test_verify import (
    AT,
    Authority,
    Evidence,
    Holder,
    good,
    make_holder,
)

SIGNED_AT = AT - timedelta(minutes=5)
TEXT = b"(Tax return 2025 - Tokorozawa)"


def make_pdf() -> bytes:
    """A one-page return with an uncompressed content stream (so tests can edit its text)."""
    buffer = BytesIO()
    page = canvas.Canvas(buffer, pageCompression=0)
    page.setTitle("Final tax return")
    page.drawString(72, 720, TEXT[1:-1].decode())
    page.showPage()
    page.save()
    return buffer.getvalue()


@pytest.fixture(scope="module")
def accountant(authority: Authority,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[Holder]:
    opened = make_holder(authority, tmp_path_factory.mktemp("card2"), family="佐藤",
                         given="花子", issuance_id="S2026-0002")
    yield opened
    opened.card.close()


@pytest.fixture(scope="module")
def signed(holder: Holder) -> bytes:
    return sign_pdf(make_pdf(), holder.signer, holder.cert, signing_time=SIGNED_AT,
                    stamp=Stamp())


def test_pades_baseline_b(signed: bytes, holder: Holder) -> None:
    (signature,) = PdfFileReader(BytesIO(signed)).embedded_regular_signatures
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert signature.sig_object["/M"] == generic.pdf_date(SIGNED_AT)
    assert signature.field_name == "JPKISignature1"
    widget_box = [float(n) for n in signature.sig_field["/Rect"]]
    assert widget_box == [340, 36, 560, 96]  # visible
    attributes = {a["type"].native for a in signature.signer_info["signed_attrs"]}
    assert "signing_certificate_v2" in attributes
    assert "signing_time" not in attributes  # PAdES: the time is /M
    assert signature.signer_cert.dump() == holder.cert.public_bytes(serialization.Encoding.DER)


def test_pyhankos_own_validator_accepts_it(signed: bytes, authority: Authority,
                                           holder: Holder) -> None:
    (signature,) = PdfFileReader(BytesIO(signed)).embedded_regular_signatures
    root = asn1_x509.Certificate.load(authority.cert.public_bytes(serialization.Encoding.DER))
    context = ValidationContext(trust_roots=[root], moment=AT, allow_fetching=False,
                                revocation_mode="require", ocsps=[authority.ocsp(holder.cert)])
    status = validate_pdf_signature(signature, context)
    assert status.bottom_line, status.pretty_print_details()
    assert status.coverage is SignatureCoverageLevel.ENTIRE_FILE


def test_round_trip(signed: bytes, authority: Authority, holder: Holder) -> None:
    report = verify_pdf(signed, trust=authority.trust, at=AT,
                        evidence=good(authority, holder.cert))
    (result,) = report.signatures
    assert (result.indication, result.sub_indication) == (Indication.TOTAL_PASSED, None)
    assert result.signed_data == signed  # the signature covers the whole file
    assert report.to_dict()["format"] == "pdf"


def test_two_signers(signed: bytes, authority: Authority, holder: Holder,
                     accountant: Holder) -> None:
    both = sign_pdf(signed, accountant.signer, accountant.cert, signing_time=AT)
    report = verify_pdf(both, trust=authority.trust, at=AT,
                        evidence=good(authority, holder.cert, accountant.cert))
    assert [s.indication for s in report.signatures] == [Indication.TOTAL_PASSED] * 2
    assert [s.signer.serial for s in report.signatures if s.signer] == [
        holder.cert.serial_number, accountant.cert.serial_number]
    assert report.signatures[0].signed_data == signed  # the first covers its own revision
    assert [e.field_name for e in PdfFileReader(BytesIO(both)).embedded_regular_signatures] == [
        "JPKISignature1", "JPKISignature2"]
    with pytest.raises(SigningError, match="already has"):
        sign_pdf(both, accountant.signer, accountant.cert, signing_time=AT,
                 field_name="JPKISignature2")


def test_a_change_after_signing_is_refused(signed: bytes, authority: Authority,
                                           holder: Holder) -> None:
    """An incremental update that writes on the page leaves the signature intact but stale."""
    writer = IncrementalPdfFileWriter(BytesIO(signed))
    stream = writer.add_object(generic.StreamObject(
        stream_data=b"BT /F1 24 Tf 72 650 Td (Refund: 9,999,999 yen) Tj ET"))
    writer.add_stream_to_page(0, stream)
    output = BytesIO()
    writer.write(output)
    report = verify_pdf(output.getvalue(), trust=authority.trust, at=AT,
                        evidence=good(authority, holder.cert))
    (result,) = report.signatures
    assert result.sub_indication is SubIndication.FORMAT_FAILURE
    assert "changed after" in result.message


def test_edited_signed_bytes_are_a_hash_failure(signed: bytes, authority: Authority,
                                                holder: Holder) -> None:
    assert signed.count(TEXT) == 1
    edited = signed.replace(TEXT, TEXT.replace(b"2025", b"2026"))
    report = verify_pdf(edited, trust=authority.trust, at=AT,
                        evidence=good(authority, holder.cert))
    assert report.signatures[0].sub_indication is SubIndication.HASH_FAILURE


def test_revoked_and_no_evidence(signed: bytes, authority: Authority, holder: Holder) -> None:
    evidence = Evidence({holder.cert.serial_number: authority.ocsp(
        holder.cert, status="revoked", revoked_at=AT - timedelta(hours=1),
        reason=x509.ReasonFlags.affiliation_changed)})
    report = verify_pdf(signed, trust=authority.trust, at=AT, evidence=evidence)
    assert report.signatures[0].sub_indication is SubIndication.REVOKED
    report = verify_pdf(signed, trust=authority.trust, at=AT, evidence=NoEvidence())
    assert report.signatures[0].sub_indication is SubIndication.TRY_LATER


@pytest.mark.parametrize("document", [make_pdf(), b"%PDF-1.7\nnot really", b""],
                         ids=["unsigned", "broken", "empty"])
def test_only_signed_pdfs_are_verified(document: bytes, authority: Authority) -> None:
    with pytest.raises(MalformedDocument):
        verify_pdf(document, trust=authority.trust, at=AT, evidence=NoEvidence())


def test_the_card_signs_once_per_signature(holder: Holder) -> None:
    """pyhanko sizes the signature with a dry run: that run must not reach the card."""
    digests: list[bytes] = []

    def counting(digest: bytes) -> bytes:
        digests.append(digest)
        return holder.signer(digest)

    sign_pdf(make_pdf(), counting, holder.cert, signing_time=AT)
    assert len(digests) == 1


def test_only_pdfs_are_signed(holder: Holder) -> None:
    with pytest.raises(MalformedDocument):
        sign_pdf(b"<DATA/>", holder.signer, holder.cert, signing_time=AT)
    with pytest.raises(MalformedDocument, match="larger"):
        sign_pdf(make_pdf(), holder.signer, holder.cert, signing_time=AT, max_bytes=100)
