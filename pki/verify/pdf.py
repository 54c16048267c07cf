"""Verification of signed PDFs (PAdES, or plain ``adbe.pkcs7.detached``) with pyhanko.

For each approval signature (``/Sig``), in signing order: pyhanko computes the byte-range digest
and checks it against the CMS message digest (HASH_FAILURE) and the signature value
(SIG_CRYPTO_FAILURE); the signature must cover a whole revision, and pyhanko's difference
analysis must find nothing after it but further signatures and form filling (else
FORMAT_FAILURE: what a reader shows is no longer what was signed). Then
:func:`pki.verify.trust.check_chain` judges the certificate. ``signed_data`` is the revision the
signature covers (the file as it was when signed).
"""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from typing import Final

from cryptography import x509
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_sig_integrity
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel

from pki.signing import MalformedDocument
from pki.signing.pdf import MAX_PDF
from pki.verify.report import Report, SignatureReport, SubIndication
from pki.verify.trust import Context, RevocationEvidence, TrustStore, assess, refused

MAX_SIGNATURES: Final = 16
SUBFILTERS: Final = frozenset({"/ETSI.CAdES.detached", "/adbe.pkcs7.detached"})


def _signatures(data: bytes, max_bytes: int) -> list[EmbeddedPdfSignature]:
    if len(data) > max_bytes:
        raise MalformedDocument(f"the PDF is larger than {max_bytes} bytes")
    try:
        reader = PdfFileReader(BytesIO(bytes(data)), strict=True)
        if reader.encrypted:
            raise MalformedDocument("encrypted PDFs are not verified")
        signatures = list(reader.embedded_regular_signatures)
    except MalformedDocument:
        raise
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise MalformedDocument(f"not a readable signed PDF: {exc}") from exc
    if not 1 <= len(signatures) <= MAX_SIGNATURES:
        raise MalformedDocument(f"the PDF must carry 1 to {MAX_SIGNATURES} signatures")
    return signatures


def _signed_revision(data: bytes, signature: EmbeddedPdfSignature) -> bytes:
    _, _, start, length = (int(n) for n in signature.byte_range)
    return bytes(data[: start + length])


def _verify_one(index: int, data: bytes, signature: EmbeddedPdfSignature,
                context: Context) -> SignatureReport:
    subfilter = str(signature.sig_object.get("/SubFilter"))
    if subfilter not in SUBFILTERS:
        return refused(index, SubIndication.FORMAT_FAILURE, f"SubFilter {subfilter} is refused")
    try:
        signer = x509.load_der_x509_certificate(signature.signer_cert.dump())
    except (ValueError, TypeError, KeyError) as exc:
        return refused(index, SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                       f"the signer's certificate is not in the signature: {exc}")
    try:
        if signature.signer_info["signature_algorithm"].signature_algo != "rsassa_pkcs1v15":
            return refused(index, SubIndication.FORMAT_FAILURE,
                           "only RSA PKCS #1 v1.5 signatures are accepted", signer)
        if signature.md_algorithm not in {"sha256", "sha384", "sha512"}:
            return refused(index, SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                           f"digest algorithm {signature.md_algorithm} is not accepted", signer)
        signature.compute_integrity_info()
        integrity = signature.summarise_integrity_info()
        intact, valid = validate_sig_integrity(
            signature.signer_info, signature.signer_cert, "data", signature.compute_digest())
    except SignatureValidationError as exc:
        return refused(index, SubIndication.FORMAT_FAILURE, exc.failure_message, signer)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        return refused(index, SubIndication.FORMAT_FAILURE, f"malformed signature: {exc}", signer)
    if not intact:
        return refused(index, SubIndication.HASH_FAILURE,
                       "the signed bytes do not match the signed message digest", signer)
    if not valid:
        return refused(index, SubIndication.SIG_CRYPTO_FAILURE,
                       "the signature value does not verify with the signer's key", signer)
    if integrity["coverage"] < SignatureCoverageLevel.ENTIRE_REVISION:
        return refused(index, SubIndication.FORMAT_FAILURE,
                       "the signature does not cover a whole revision of the file", signer)
    if not integrity["docmdp_ok"]:
        return refused(index, SubIndication.FORMAT_FAILURE,
                       "the document was changed after this signature beyond adding "
                       "signatures or filling in form fields", signer)
    revision = _signed_revision(data, signature)
    others = [x509.load_der_x509_certificate(c.dump()) for c in signature.other_embedded_certs]
    return assess(index, signer, others, signed_data_digest=signature.compute_digest("sha256"),
                  signed_data=revision, context=context)


def verify_pdf(data: bytes, *, trust: TrustStore, evidence: RevocationEvidence, at: datetime,
               max_bytes: int = MAX_PDF) -> Report:
    """Verify every approval signature of a PDF at ``at``, in signing order.

    Raises :class:`~pki.signing.MalformedDocument` for a file that is not a signed PDF.
    """
    context = Context(trust, evidence, at)
    return Report("pdf", at, tuple(
        _verify_one(index, bytes(data), signature, context)
        for index, signature in enumerate(_signatures(data, max_bytes))
    ))
