"""Detached CMS (PKCS #7) signatures of any bytes, made on the card through pyhanko.

:class:`CardCmsSigner` is a pyhanko ``Signer`` whose raw signature comes from a
:data:`~pki.signing.DigestSigner`; pyhanko builds the SignedData (CAdES-style signed attributes:
content type, message digest, signing time, signing-certificate-v2). The PDF signer
(:mod:`pki.signing.pdf`) uses the same class. ``openssl cms -verify -binary -content FILE``
accepts the result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from asn1crypto import algos
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.sign.signers import Signer
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko_certvalidator.registry import SimpleCertificateStore

from pki.signing import DigestSigner, SigningError, check_signature, sha256

DIGEST_ALGORITHM = "sha256"
MAX_CONTENT = 100 * 1024 * 1024  # bytes signed in one call; a CMS signature is not for bulk data


def to_asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


class CardCmsSigner(Signer):
    """A pyhanko signer backed by a digest signer: ``async_sign_raw`` hashes and asks the card."""

    def __init__(self, signer: DigestSigner, certificate: x509.Certificate,
                 chain: Sequence[x509.Certificate] = ()) -> None:
        public_key = certificate.public_key()
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise SigningError("the signing certificate must hold an RSA key")
        self._digest_signer, self._public_key = signer, public_key
        super().__init__(
            signing_cert=to_asn1(certificate),
            cert_registry=SimpleCertificateStore.from_certs([to_asn1(c) for c in chain]),
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "sha256_rsa"}),
            embed_roots=False,
        )

    async def async_sign_raw(self, data: bytes, digest_algorithm: str,
                             dry_run: bool = False) -> bytes:
        if digest_algorithm != DIGEST_ALGORITHM:
            raise SigningError(f"the card signs SHA-256 digests only, not {digest_algorithm}")
        if dry_run:
            return bytes(self._public_key.key_size // 8)
        digest = sha256(data)
        signature = self._digest_signer(digest)
        check_signature(signature, digest, self._public_key)
        return signature


def sign_cms(content: bytes, signer: DigestSigner, certificate: x509.Certificate, *,
             signing_time: datetime, chain: Sequence[x509.Certificate] = ()) -> bytes:
    """A detached CMS SignedData (DER) over ``content``, signed on the card.

    ``signing_time`` (an aware datetime, from the caller's clock) becomes the signing-time
    attribute; ``chain`` adds intermediate certificates (roots are never embedded).
    """
    if signing_time.utcoffset() is None:
        raise SigningError("signing_time must be an aware datetime")
    if len(content) > MAX_CONTENT:
        raise SigningError(f"the content is larger than {MAX_CONTENT} bytes")
    cms_signer = CardCmsSigner(signer, certificate, chain)
    signed = asyncio.run(cms_signer.async_sign_general_data(
        bytes(content), DIGEST_ALGORITHM, detached=True, use_cades=True,
        signed_attr_settings=PdfCMSSignedAttributes(signing_time=signing_time),
    ))
    return bytes(signed.dump())
