"""Verification of e-Tax-style XML submissions (see :mod:`pki.signing.xml` for the format).

For each parallel signature, on the parsed document if it is the only one, else on a copy in
which it is the only signature:

1. its shape: one Reference to ``#CONTENTS``, enveloped-signature + C14N 1.0 and nothing else,
   RSA-SHA256, SHA-256, only ``X509Data/X509Certificate`` in ``KeyInfo`` (else FORMAT_FAILURE);
2. the signer's certificate: the one non-CA certificate in ``X509Data``;
3. cryptography with signxml (HASH_FAILURE, SIG_CRYPTO_FAILURE), then a check that the bytes
   signxml says are signed are the canonical ``DATA/CONTENTS`` of that copy;
4. the certificate path and its revocation status (:func:`pki.verify.trust.check_chain`).

signxml is handed the tree the shape checks saw (never the bytes again: one parse, and no room
for two parses to differ). Only those signed bytes are handed on
(``SignatureReport.signed_data``). Document-level problems (not XML, a DTD, too large or too
deep, a shape that could hide what was signed) raise :class:`~pki.signing.MalformedDocument`
before any signature is judged.
"""

from __future__ import annotations

import base64
import binascii
import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cryptography import x509
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    InvalidCertificate,
    InvalidDigest,
    InvalidSignature,
    SignatureConfiguration,
    SignatureMethod,
    VerifyResult,
    XMLVerifier,
)
from signxml.exceptions import SignXMLException

from pki.signing import sha256
from pki.signing.xml import (
    C14N_1_0,
    CONTENTS,
    DEFAULT_LIMITS,
    DS_NS,
    ENVELOPED,
    ID_ATTRIBUTE,
    REFERENCE_URI,
    RSA_SHA256,
    SHA256_URI,
    SIGNATURE_TAG,
    Limits,
    Submission,
    Utf8Serialisation,
    canonical_contents,
    parse_submission,
    safe_parser,
)
from pki.verify.report import Report, SignatureReport, SubIndication
from pki.verify.trust import Context, RevocationEvidence, TrustStore, assess, refused

MAX_CERTIFICATES: Final = 4


class _Verifier(Utf8Serialisation, XMLVerifier):
    """signxml's verifier, handed the tree :func:`parse_submission` checked.

    signxml parses bytes once more, or copies a given element through a serialisation; it only
    reads the tree it is given (it copies before its transforms), so the checked tree itself is
    used: no second parse, and signxml sees exactly what the shape checks saw.
    """

    def get_root(self, data: Any) -> Any:
        if isinstance(data, etree._Element):
            return data
        return super().get_root(data)


class _Refused(Exception):
    def __init__(self, sub_indication: SubIndication, message: str) -> None:
        super().__init__(message)
        self.sub_indication = sub_indication


def _ds(name: str) -> str:
    return f"{{{DS_NS}}}{name}"


def _children(element: etree._Element, *names: str, text: bool = False) -> list[etree._Element]:
    """The element children of ``element``, which must be exactly ``names`` in this order."""
    found = [child for child in element if isinstance(child.tag, str)]
    if [child.tag for child in found] != [_ds(name) for name in names]:
        local = etree.QName(element).localname
        raise _Refused(SubIndication.FORMAT_FAILURE,
                       f"ds:{local} must hold exactly {', '.join(names) or 'nothing'}")
    if not text and (element.text or "").strip():
        raise _Refused(SubIndication.FORMAT_FAILURE, "unexpected text in the signature")
    for child in element:
        if (child.tail or "").strip():
            raise _Refused(SubIndication.FORMAT_FAILURE, "unexpected text in the signature")
    return found


def _attributes(element: etree._Element, allowed: set[str], **required: str) -> None:
    local = etree.QName(element).localname
    for name in element.attrib:
        if name not in allowed and name not in required:
            raise _Refused(SubIndication.FORMAT_FAILURE, f"ds:{local} has attribute {name}")
    for name, value in required.items():
        if element.get(name) != value:
            raise _Refused(SubIndication.FORMAT_FAILURE,
                           f"ds:{local} must have {name}={value!r}, not {element.get(name)!r}")


def _algorithm(element: etree._Element, uri: str) -> None:
    _attributes(element, set(), Algorithm=uri)
    _children(element)


def _check_shape(signature: etree._Element) -> list[bytes]:
    """Refuse anything but the one profile; return the DER certificates of ``X509Data``."""
    _attributes(signature, {"Id"})
    signed_info, signature_value, key_info = _children(
        signature, "SignedInfo", "SignatureValue", "KeyInfo")
    _attributes(signed_info, {"Id"})
    c14n, method, reference = _children(
        signed_info, "CanonicalizationMethod", "SignatureMethod", "Reference")
    _algorithm(c14n, C14N_1_0)
    _algorithm(method, RSA_SHA256)
    _attributes(reference, {"Id"}, URI=REFERENCE_URI)
    transforms, digest_method, digest_value = _children(
        reference, "Transforms", "DigestMethod", "DigestValue")
    _attributes(transforms, set())
    first, second = _children(transforms, "Transform", "Transform")
    _algorithm(first, ENVELOPED)
    _algorithm(second, C14N_1_0)
    _algorithm(digest_method, SHA256_URI)
    _attributes(digest_value, set())
    _children(digest_value, text=True)
    _attributes(signature_value, {"Id"})
    _children(signature_value, text=True)
    _attributes(key_info, {"Id"})
    (x509_data,) = _children(key_info, "X509Data")
    _attributes(x509_data, set())
    certificates = [c for c in x509_data if isinstance(c.tag, str)]
    if not 1 <= len(certificates) <= MAX_CERTIFICATES:
        raise _Refused(SubIndication.FORMAT_FAILURE,
                       f"ds:X509Data must hold 1 to {MAX_CERTIFICATES} certificates")
    _children(x509_data, *["X509Certificate"] * len(certificates))
    ders = []
    for element in certificates:
        _attributes(element, set())
        _children(element, text=True)
        try:
            ders.append(base64.b64decode("".join((element.text or "").split()), validate=True))
        except (binascii.Error, ValueError) as exc:
            raise _Refused(SubIndication.FORMAT_FAILURE,
                           "ds:X509Certificate is not base64") from exc
    return ders


def _signer(ders: list[bytes]) -> tuple[x509.Certificate, list[x509.Certificate]]:
    """The one end-entity certificate, and the others (path candidates, never trusted)."""
    try:
        certs = [x509.load_der_x509_certificate(der) for der in ders]
    except ValueError as exc:
        raise _Refused(SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                       "a certificate in ds:X509Data cannot be read") from exc

    def is_ca(cert: x509.Certificate) -> bool:
        try:
            return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except x509.ExtensionNotFound:
            return False
        except ValueError:
            return True  # unreadable extensions: not a candidate signer

    leaves = [cert for cert in certs if not is_ca(cert)]
    if len(leaves) != 1:
        raise _Refused(SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                       "ds:X509Data must hold exactly one end-entity certificate")
    return leaves[0], [cert for cert in certs if cert is not leaves[0]]


def _alone(submission: Submission, index: int) -> etree._Element:
    """A copy of the document in which the ``index``-th signature is the only one."""
    root = copy.deepcopy(submission.root)
    signatures = [child for child in root if child.tag == SIGNATURE_TAG]
    for position, signature in enumerate(signatures):
        if position != index:
            root.remove(signature)
    return root


def _crypto(document: etree._Element, signer: x509.Certificate) -> VerifyResult:
    config = SignatureConfiguration(
        location="./",
        expect_references=1,
        signature_methods=frozenset({SignatureMethod.RSA_SHA256}),
        digest_algorithms=frozenset({DigestAlgorithm.SHA256}),
        default_reference_c14n_method=CanonicalizationMethod.CANONICAL_XML_1_0,
        # time belongs to path validation: signxml only checks the signature here
        verification_time=signer.not_valid_before_utc,
    )
    try:
        result = _Verifier().verify(document, x509_cert=signer, id_attribute=ID_ATTRIBUTE,
                                    parser=safe_parser(), expect_config=config)
    except InvalidDigest as exc:
        raise _Refused(SubIndication.HASH_FAILURE, "the form content does not match its "
                       "digest: it was changed after signing") from exc
    except InvalidCertificate as exc:  # not expected: time is neutralised above
        raise _Refused(SubIndication.FORMAT_FAILURE, f"the certificate was refused: {exc}"
                       ) from exc
    except InvalidSignature as exc:
        raise _Refused(SubIndication.SIG_CRYPTO_FAILURE,
                       "the signature value does not verify with the signer's key") from exc
    except (SignXMLException, ValueError, etree.LxmlError) as exc:  # InvalidInput, schema
        raise _Refused(SubIndication.FORMAT_FAILURE, f"the signature cannot be checked: {exc}"
                       ) from exc
    assert isinstance(result, VerifyResult)
    return result


@dataclass(frozen=True)
class _Document:
    submission: Submission
    canonical_contents: bytes  # what every signature must cover


def _verify_one(document: _Document, index: int, context: Context) -> SignatureReport:
    signature = document.submission.signatures[index]
    signer: x509.Certificate | None = None
    try:
        ders = _check_shape(signature)
        signer, others = _signer(ders)
        alone = document.submission.root if len(document.submission.signatures) == 1 else (
            _alone(document.submission, index))
        result = _crypto(alone, signer)
        if result.signed_data != document.canonical_contents:
            raise _Refused(SubIndication.FORMAT_FAILURE, f"the signed data is not <{CONTENTS}>")
    except _Refused as problem:
        return refused(index, problem.sub_indication, str(problem), signer)
    return assess(index, signer, others, signed_data_digest=sha256(result.signed_data),
                  signed_data=result.signed_data, context=context)


def verify_xml(data: bytes, *, trust: TrustStore, evidence: RevocationEvidence, at: datetime,
               limits: Limits = DEFAULT_LIMITS) -> Report:
    """Verify every signature of a submission at ``at``.

    Raises :class:`~pki.signing.MalformedDocument` for a document that cannot be judged.
    """
    submission = parse_submission(data, limits)
    document = _Document(submission, canonical_contents(submission.contents))
    context = Context(trust, evidence, at)
    return Report("xml", at, tuple(
        _verify_one(document, index, context) for index in range(len(submission.signatures))
    ))
