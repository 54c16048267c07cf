"""The e-Tax-style signed submission (DESIGN.md §6) and signing it with the card.

Format::

    <DATA>
      <CONTENTS id="CONTENTS"> …the form… </CONTENTS>
      <ds:Signature> …one Reference to #CONTENTS… </ds:Signature>   (one per signer, siblings)
    </DATA>

Each signature is enveloped, has exactly one Reference (``URI="#CONTENTS"``) with the transforms
enveloped-signature then inclusive C14N 1.0, a SHA-256 digest, RSA-SHA256 over the SignedInfo
canonicalised with C14N 1.0, and the signer's certificate in ``KeyInfo/X509Data``. A second signer
adds a sibling ``ds:Signature``; the first stays valid because it covers only ``CONTENTS``.

:func:`parse_submission` is the only way in for both signing and verification: it refuses DTDs,
entities and network access, bounds size and depth, and enforces the shape that defeats
signature wrapping (exactly one ``DATA/CONTENTS``, the only element carrying that id, no duplicate
ids, every signature a direct child of ``DATA``, no ``xml:*`` attribute on the root).

Signing lets signxml build the signature and hands it a key object whose ``sign()`` hashes the
canonical SignedInfo and passes the digest to the :data:`~pki.signing.DigestSigner` (the card).
The result is checked against the certificate's key before it is returned.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Final, NoReturn

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.asymmetric import rsa, utils
from lxml import etree
from signxml import (
    CanonicalizationMethod,
    DigestAlgorithm,
    SignatureConstructionMethod,
    SignatureMethod,
    XMLSigner,
)

from pki.signing import DigestSigner, MalformedDocument, SigningError, check_signature, sha256

DS_NS: Final = "http://www.w3.org/2000/09/xmldsig#"
XML_NS: Final = "http://www.w3.org/XML/1998/namespace"
C14N_1_0: Final = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED: Final = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
RSA_SHA256: Final = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256_URI: Final = "http://www.w3.org/2001/04/xmlenc#sha256"
ROOT: Final = "DATA"
CONTENTS: Final = "CONTENTS"
ID_ATTRIBUTE: Final = "id"
REFERENCE_URI: Final = "#" + CONTENTS
SIGNATURE_TAG: Final = f"{{{DS_NS}}}Signature"


@dataclass(frozen=True)
class Limits:
    """Bounds on an input document (the issue's default is 10 MB)."""

    max_bytes: int = 10 * 1024 * 1024
    max_depth: int = 64
    max_signatures: int = 16  # each is verified on its own copy of the document


DEFAULT_LIMITS: Final = Limits()


@dataclass(frozen=True)
class Submission:
    """A parsed submission whose shape has been checked."""

    root: etree._Element
    contents: etree._Element
    signatures: list[etree._Element] = field(default_factory=list)


def _refuse(reason: str) -> NoReturn:
    raise MalformedDocument(reason)


def safe_parser() -> etree.XMLParser:
    """A parser that never loads a DTD, expands an entity or touches the network.

    Comments and processing instructions are kept (canonicalisation decides what they count
    for); one parser per call because lxml parsers are not thread-safe.
    """
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_blank_text=False, collect_ids=False,
    )


def parse_xml(data: bytes, limits: Limits = DEFAULT_LIMITS) -> etree._Element:
    """Parse bytes into an element tree under the safety rules; no shape checks."""
    if not isinstance(data, bytes | bytearray):
        _refuse("an XML document is given as bytes")
    if len(data) > limits.max_bytes:
        _refuse(f"the document is larger than {limits.max_bytes} bytes")
    try:
        root = etree.fromstring(bytes(data), parser=safe_parser())
    except etree.XMLSyntaxError as exc:
        _refuse(f"not well-formed XML: {exc}")
    if root is None:
        _refuse("the document is empty")
    info = root.getroottree().docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        _refuse("document type declarations (DTDs, entities) are not accepted")
    if root.xpath("boolean(/*" + "/*" * limits.max_depth + ")"):  # an element below the bound
        _refuse(f"the document is nested deeper than {limits.max_depth} elements")
    if any(True for _ in root.iter(etree.Entity)):
        _refuse("entity references are not accepted")
    return root


def _is_blank(text: str | None) -> bool:
    return text is None or not text.strip()


# id, Id or ID in any namespace (xml:id included); plain name tests first, as they are fast
_ID_ATTRIBUTES: Final = (
    "/descendant-or-self::*/@id | /descendant-or-self::*/@Id | /descendant-or-self::*/@ID"
    " | /descendant-or-self::*/@*[namespace-uri() != '']"
    "[local-name() = 'id' or local-name() = 'Id' or local-name() = 'ID']"
)


def _id_values(root: etree._Element) -> list[tuple[etree._Element, str, str]]:
    """Every (element, attribute name, value) whose attribute is an id in some reader's eyes.

    Any namespace counts (``xml:id`` included): signxml, xmlsec1 and careless readers differ.
    """
    return [(value.getparent(), value.attrname, str(value)) for value in root.xpath(_ID_ATTRIBUTES)]


def check_submission(root: etree._Element, *, require_signature: bool) -> Submission:
    """Enforce the submission shape that makes "what was signed" unambiguous."""
    if root.tag != ROOT:
        _refuse(f"the root element must be <{ROOT}> without a namespace, not <{root.tag}>")
    inherited = [name for name in root.attrib if name.startswith(f"{{{XML_NS}}}")]
    if inherited:
        _refuse(f"xml:* attributes on <{ROOT}> are not accepted ({', '.join(inherited)})")
    if not _is_blank(root.text):
        _refuse(f"<{ROOT}> may hold only elements, not text")
    contents: list[etree._Element] = []
    signatures: list[etree._Element] = []
    for child in root:
        if not _is_blank(child.tail):
            _refuse(f"<{ROOT}> may hold only elements, not text")
        if not isinstance(child.tag, str):
            continue  # a comment or processing instruction: outside what is signed
        if child.tag == CONTENTS:
            contents.append(child)
        elif child.tag == SIGNATURE_TAG:
            signatures.append(child)
        else:
            _refuse(f"<{ROOT}> may hold only <{CONTENTS}> and ds:Signature, not <{child.tag}>")
    if len(contents) != 1:
        _refuse(f"<{ROOT}> must hold exactly one <{CONTENTS}>, not {len(contents)}")
    form = contents[0]
    if form.get(ID_ATTRIBUTE) != CONTENTS:
        _refuse(f'<{CONTENTS}> must carry {ID_ATTRIBUTE}="{CONTENTS}"')
    ids = _id_values(root)
    duplicates = sorted(value for value, n in Counter(v for _, _, v in ids).items() if n > 1)
    if duplicates:
        _refuse(f"duplicate ids: {', '.join(duplicates)}")
    for element, name, value in ids:
        if value == CONTENTS and not (element is form and name == ID_ATTRIBUTE):
            _refuse(f"only <{CONTENTS}> may carry the id {CONTENTS}")
    nested = [s for s in root.iter(SIGNATURE_TAG) if s.getparent() is not root]
    if nested:
        _refuse(f"every ds:Signature must be a direct child of <{ROOT}>")
    if require_signature and not signatures:
        _refuse("the document carries no ds:Signature")
    return Submission(root, form, signatures)


def parse_submission(data: bytes, limits: Limits = DEFAULT_LIMITS, *,
                     require_signature: bool = True) -> Submission:
    """Parse and check a submission; raises :class:`~pki.signing.MalformedDocument`."""
    submission = check_submission(parse_xml(data, limits), require_signature=require_signature)
    if len(submission.signatures) > limits.max_signatures:
        _refuse(f"the document carries more than {limits.max_signatures} signatures")
    return submission


def canonical_contents(contents: etree._Element) -> bytes:
    """Inclusive C14N 1.0 (without comments) of ``CONTENTS``: the bytes a Reference covers."""
    return etree.tostring(contents, method="c14n", exclusive=False, with_comments=False)


def serialise(root: etree._Element) -> bytes:
    """UTF-8 with an XML declaration."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


class Utf8Serialisation:
    """signxml copies trees through ASCII serialisation, which breaks non-ASCII names: use UTF-8."""

    def _tostring(self, xml_node: etree._Element, **kwargs: Any) -> bytes:
        kwargs.setdefault("encoding", "UTF-8")
        return etree.tostring(xml_node, **kwargs)


class _Signer(Utf8Serialisation, XMLSigner):
    pass


class _DigestSignerKey(rsa.RSAPrivateKey):
    """An ``RSAPrivateKey`` whose only working operation is ``sign()``, forwarded to a signer.

    signxml calls ``sign(canonical_signed_info, PKCS1v15(), SHA256())``; anything else is refused,
    so a change in how signxml signs fails loudly instead of producing another signature.
    """

    def __init__(self, signer: DigestSigner, public_key: rsa.RSAPublicKey) -> None:
        self._signer, self._public_key = signer, public_key

    def sign(self, data: bytes, padding: rsa_padding.AsymmetricPadding,
             algorithm: hashes.HashAlgorithm | utils.Prehashed | utils.NoDigestInfo) -> bytes:
        if padding.name != "EMSA-PKCS1-v1_5" or not isinstance(algorithm, hashes.SHA256):
            raise SigningError("the card signs SHA-256 with PKCS#1 v1.5 only")
        digest = sha256(data)
        signature = self._signer(digest)
        check_signature(signature, digest, self._public_key)
        return signature

    @property
    def key_size(self) -> int:
        return self._public_key.key_size

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public_key

    def decrypt(self, ciphertext: bytes, padding: rsa_padding.AsymmetricPadding) -> bytes:
        raise SigningError("a signing card does not decrypt")

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        raise SigningError("the private key never leaves the card")

    def private_bytes(self, *args: Any, **kwargs: Any) -> bytes:
        raise SigningError("the private key never leaves the card")

    def __copy__(self) -> _DigestSignerKey:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> _DigestSignerKey:
        return self


def sign_xml(document: bytes, signer: DigestSigner, certificate: x509.Certificate, *,
             limits: Limits = DEFAULT_LIMITS) -> bytes:
    """Add one enveloped signature over ``CONTENTS`` and return the signed document (UTF-8).

    ``document`` may already carry signatures: the new one becomes their last sibling.
    ``certificate`` goes into ``KeyInfo/X509Data`` and must hold the signer's public key.
    """
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SigningError("the signing certificate must hold an RSA key")
    submission = parse_submission(document, limits, require_signature=False)
    before = len(submission.signatures)
    if before >= limits.max_signatures:
        raise MalformedDocument(f"the document already carries {before} signatures")
    xml_signer = _Signer(
        method=SignatureConstructionMethod.enveloped,
        signature_algorithm=SignatureMethod.RSA_SHA256,
        digest_algorithm=DigestAlgorithm.SHA256,
        c14n_algorithm=CanonicalizationMethod.CANONICAL_XML_1_0,
    )
    signed = xml_signer.sign(
        submission.root,
        key=_DigestSignerKey(signer, public_key),
        cert=[certificate],
        reference_uri=REFERENCE_URI,
        id_attribute=ID_ATTRIBUTE,
    )
    result = check_submission(signed, require_signature=True)
    if len(result.signatures) != before + 1:
        raise SigningError("signing did not add exactly one signature")
    return serialise(signed)
