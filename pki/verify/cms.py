"""Verification of detached CMS (PKCS #7) signatures with pyhanko's CMS primitives.

The SignedData must be detached (no encapsulated content) over content of type ``data``. Each
SignerInfo is one signature: its certificate is found by ``sid`` among the embedded certificates,
pyhanko checks the message digest against the given content (HASH_FAILURE) and the signature
over the signed attributes (SIG_CRYPTO_FAILURE), then :func:`pki.verify.trust.check_chain` judges
the certificate. RSA PKCS #1 v1.5 with SHA-256, SHA-384 or SHA-512 only.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Final

from asn1crypto import cms, core, pem
from cryptography import x509
from pyhanko.sign.general import CMSStructuralError
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.generic_cms import validate_sig_integrity

from pki.signing import MalformedDocument, sha256
from pki.signing.cms import to_asn1
from pki.verify.report import Report, SignatureReport, SubIndication
from pki.verify.trust import Context, RevocationEvidence, TrustStore, assess, refused

MAX_SIGNATURE: Final = 1024 * 1024
MAX_CONTENT: Final = 100 * 1024 * 1024
MAX_SIGNERS: Final = 16
DIGESTS: Final = frozenset({"sha256", "sha384", "sha512"})
SIGNATURE_ALGORITHMS: Final = frozenset({"rsassa_pkcs1v15"})


def load_signed_data(signature: bytes, max_bytes: int = MAX_SIGNATURE) -> cms.SignedData:
    """Parse a detached SignedData (DER or PEM); refuse anything else."""
    if len(signature) > max_bytes:
        raise MalformedDocument(f"the signature is larger than {max_bytes} bytes")
    der = bytes(signature)
    try:
        if pem.detect(der):
            _, _, der = pem.unarmor(der)
        info = cms.ContentInfo.load(der, strict=True)
        if info["content_type"].native != "signed_data":
            raise MalformedDocument("the CMS object is not SignedData")
        signed_data = info["content"]
        encap = signed_data["encap_content_info"]
        if encap["content_type"].native != "data":
            raise MalformedDocument("the signed content type must be data")
        if not isinstance(encap["content"], core.Void) and encap["content"].native is not None:
            raise MalformedDocument("not a detached signature: the content is embedded")
        if not 1 <= len(signed_data["signer_infos"]) <= MAX_SIGNERS:
            raise MalformedDocument(f"the SignedData must have 1 to {MAX_SIGNERS} signers")
    except MalformedDocument:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise MalformedDocument(f"not a CMS signature: {exc}") from exc
    assert isinstance(signed_data, cms.SignedData)
    return signed_data


def _certificates(signed_data: cms.SignedData) -> list[x509.Certificate]:
    found = []
    for choice in signed_data["certificates"] or []:
        if choice.name == "certificate":
            try:
                found.append(x509.load_der_x509_certificate(choice.chosen.dump()))
            except ValueError:
                continue  # an unreadable extra certificate cannot be the signer's
    return found


def _find_signer(signer_info: cms.SignerInfo,
                 certs: list[x509.Certificate]) -> x509.Certificate | None:
    sid = signer_info["sid"]
    for cert in certs:
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (cert.serial_number == wanted["serial_number"].native
                    and cert.issuer.public_bytes() == wanted["issuer"].dump()):
                return cert
        elif sid.name == "subject_key_identifier":
            try:
                ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            except (x509.ExtensionNotFound, ValueError):
                continue
            if ski.value.digest == sid.chosen.native:
                return cert
    return None


def _verify_one(index: int, signer_info: cms.SignerInfo, certs: list[x509.Certificate],
                content: bytes, context: Context) -> SignatureReport:
    try:
        signer = _find_signer(signer_info, certs)
        if signer is None:
            return refused(index, SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                           "the signer's certificate is not in the signature")
        digest_name = signer_info["digest_algorithm"]["algorithm"].native
        if digest_name not in DIGESTS:
            return refused(index, SubIndication.CRYPTO_CONSTRAINTS_FAILURE,
                           f"digest algorithm {digest_name} is not accepted", signer)
        if signer_info["signature_algorithm"].signature_algo not in SIGNATURE_ALGORITHMS:
            return refused(index, SubIndication.FORMAT_FAILURE,
                           "only RSA PKCS #1 v1.5 signatures are accepted", signer)
        digest = hashlib.new(digest_name, content).digest()
        intact, valid = validate_sig_integrity(signer_info, to_asn1(signer), "data", digest)
    except SignatureValidationError as exc:
        sub = (SubIndication.NO_SIGNING_CERTIFICATE_FOUND
               if exc.ades_subindication.standard_name == "NO_SIGNING_CERTIFICATE_FOUND"
               else SubIndication.FORMAT_FAILURE)
        return refused(index, sub, exc.failure_message)
    except (CMSStructuralError, ValueError, TypeError, KeyError) as exc:
        return refused(index, SubIndication.FORMAT_FAILURE, f"malformed SignerInfo: {exc}")
    if not intact:
        return refused(index, SubIndication.HASH_FAILURE,
                       "the content does not match the signed message digest", signer)
    if not valid:
        return refused(index, SubIndication.SIG_CRYPTO_FAILURE,
                       "the signature value does not verify with the signer's key", signer)
    others = [cert for cert in certs if cert is not signer]
    return assess(index, signer, others, signed_data_digest=sha256(content), signed_data=content,
                  context=context)


def verify_cms(signature: bytes, content: bytes, *, trust: TrustStore,
               evidence: RevocationEvidence, at: datetime, max_bytes: int = MAX_SIGNATURE,
               max_content: int = MAX_CONTENT) -> Report:
    """Verify a detached CMS signature over ``content`` at ``at``, one report per signer.

    Raises :class:`~pki.signing.MalformedDocument` for input that is not such a signature.
    """
    if len(content) > max_content:
        raise MalformedDocument(f"the content is larger than {max_content} bytes")
    signed_data = load_signed_data(signature, max_bytes)
    certs = _certificates(signed_data)
    context = Context(trust, evidence, at)
    return Report("cms", at, tuple(
        _verify_one(index, signer_info, certs, bytes(content), context)
        for index, signer_info in enumerate(signed_data["signer_infos"])
    ))
