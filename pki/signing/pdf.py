"""PAdES baseline B signatures of PDFs, made on the card through pyhanko.

The signature is an incremental update with SubFilter ``ETSI.CAdES.detached``, SHA-256 and the
signing-certificate-v2 attribute (no signing-time attribute: PAdES puts the time in ``/M``).
A second signer signs the already signed file; the first signature then covers its own revision.
An optional visible stamp shows the signer's certificate name and the signing time (ASCII text:
the built-in PDF font has no Japanese glyphs).

Time: ``/M`` and the stamp use ``signing_time`` from the caller. pyhanko still writes the
document information ``/ModDate`` from the wall clock (metadata, outside our control).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any

from cryptography import x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.sign.fields import SigFieldSpec, SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from pyhanko.sign.signers.pdf_signer import PdfSigningSession
from pyhanko.stamp import TextStampStyle

from pki.signing import DigestSigner, MalformedDocument, SigningError
from pki.signing.cms import DIGEST_ALGORITHM, CardCmsSigner

MAX_PDF = 10 * 1024 * 1024
FIELD_PREFIX = "JPKISignature"


@dataclass(frozen=True)
class Stamp:
    """A visible signature box: page index from 0, box in PDF points (x1, y1, x2, y2)."""

    page: int = 0
    box: tuple[int, int, int, int] = (340, 36, 560, 96)
    text: str = "Signed with a JPKI card\n%(signer)s\n%(ts)s"


class TimedPdfSigner(PdfSigner):
    """Takes the signing time from the caller instead of the wall clock."""

    def __init__(self, *args: Any, signing_time: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signing_time = signing_time

    def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False
                             ) -> PdfSigningSession:
        session = super().init_signing_session(pdf_out, existing_fields_only)
        session.system_time = self._signing_time
        return session


def _writer(pdf: bytes, max_bytes: int) -> IncrementalPdfFileWriter:
    if len(pdf) > max_bytes:
        raise MalformedDocument(f"the PDF is larger than {max_bytes} bytes")
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=True)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise MalformedDocument(f"not a readable PDF: {exc}") from exc
    if writer.prev.encrypted:
        raise MalformedDocument("encrypted PDFs are not signed")
    return writer


def sign_pdf(pdf: bytes, signer: DigestSigner, certificate: x509.Certificate, *,
             signing_time: datetime, stamp: Stamp | None = None, field_name: str | None = None,
             chain: Sequence[x509.Certificate] = (), max_bytes: int = MAX_PDF) -> bytes:
    """Add a PAdES-B-B signature (a new signature field) and return the signed PDF.

    ``field_name`` defaults to the next free ``JPKISignature<n>``; ``stamp`` makes it visible.
    """
    if signing_time.utcoffset() is None:
        raise SigningError("signing_time must be an aware datetime")
    writer = _writer(pdf, max_bytes)
    taken = {name for name, _, _ in enumerate_sig_fields(writer.prev)}
    if field_name is None:
        field_name = next(f"{FIELD_PREFIX}{n}" for n in range(1, len(taken) + 2)
                          if f"{FIELD_PREFIX}{n}" not in taken)
    elif field_name in taken:
        raise SigningError(f"the PDF already has a signature field {field_name!r}")
    spec = SigFieldSpec(field_name) if stamp is None else SigFieldSpec(
        field_name, on_page=stamp.page, box=stamp.box)
    metadata = PdfSignatureMetadata(
        field_name=field_name, md_algorithm=DIGEST_ALGORITHM, subfilter=SigSeedSubFilter.PADES,
    )
    pdf_signer = TimedPdfSigner(
        metadata, CardCmsSigner(signer, certificate, chain), signing_time=signing_time,
        new_field_spec=spec,
        stamp_style=TextStampStyle(stamp_text=stamp.text if stamp else "%(ts)s"),
    )
    output = asyncio.run(pdf_signer.async_sign_pdf(writer))
    return bytes(output.getvalue())
