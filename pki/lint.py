"""Lint, then sign: check an intended certificate before the CA's real signature (DESIGN.md §4).

The CA gives its builder a throwaway placeholder signature (``throwaway_certificate``), lints
the DER (``lint_certificate``), refuses on any ``ERROR`` or ``FATAL`` finding, and only then signs
with the real key. Findings come from pkilint's RFC 5280 validator set, built once per process, and
from the JPKI profile checks in this module, which catch a builder that drifted from DESIGN.md §4.

pkilint's validators all run on each certificate's own document, but faster than pkilint's own
loader and walk would run them, with the same findings in the same order:

- the document is decoded with the parts a CA repeats decoded once (``pki.lint_decoding``),
  and the nodes of those parts are made from their remembered shape (``pki.lint_nodes``);
- ``_Walker`` drives the validators rather than pkilint's ``ValidatorContainer``, without asking
  every validator at every node;
- byte-identical sub-values are decoded once (see "decoded values, memoised"), and so are URI
  syntax verdicts.

Linting costs ≈ 1.3 ms per certificate.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.padding import AsymmetricPadding
from cryptography.hazmat.primitives.asymmetric.utils import NoDigestInfo, Prehashed
from pkilint import document, loader, validation
from pkilint.pkix import certificate, extension, general_name, name
from pkilint.pkix.certificate import certificate_extension
from pyasn1_alt_modules import rfc5280

from pki import oids
from pki.basic_four import BasicFourError
from pki.basic_four import decode as decode_basic_four
from pki.lint_decoding import CertificateDecoder
from pki.lint_nodes import NodeBuilder
from pki.profile import LEAF_KEY_BITS, CertificateProfile, CertKind, ProfileError, kind_of_ca


class Severity(IntEnum):
    """pkilint's severities; a lower value is more severe."""

    FATAL = 0
    ERROR = 1
    WARNING = 2
    NOTICE = 3
    INFO = 4
    DEBUG = 5


@dataclass(frozen=True)
class Finding:
    """One lint finding: severity, code (``pkix.…`` from pkilint, ``jpki.…`` from here)."""

    severity: Severity
    code: str
    message: str | None = None
    path: str | None = None

    @property
    def blocks_issuance(self) -> bool:
        return self.severity <= Severity.ERROR

    def __str__(self) -> str:
        where = f" at {self.path}" if self.path else ""
        return f"{self.severity.name} {self.code}{where}" + (f": {self.message}"
                                                               if self.message else "")


def blocks_issuance(findings: Iterable[Finding]) -> bool:
    """Whether any finding is ``ERROR`` or ``FATAL``: the CA then refuses to sign."""
    return any(f.blocks_issuance for f in findings)


# -- pkilint -------------------------------------------------------------------------------------

_LOCK = threading.Lock()  # pkilint (and the walker's caches) are not thread-safe; ≈ 1.5 ms


def _new_rfc5280_validator() -> Any:
    """pkilint's RFC 5280 certificate validator container, as its lint_pkix_cert assembles it."""
    return certificate.create_pkix_certificate_validator_container(
        certificate.create_decoding_validators(
            name.ATTRIBUTE_TYPE_MAPPINGS, extension.EXTENSION_MAPPINGS
        ),
        [
            certificate.create_issuer_validator_container([]),
            certificate.create_validity_validator_container(),
            certificate.create_subject_validator_container([]),
            certificate.create_extensions_validator_container([]),
            certificate.create_spki_validator_container([]),
        ],
    )


@functools.cache
def _rfc5280_validator() -> Any:
    """pkilint's container, untouched: what ``_validate`` must agree with (see the tests)."""
    return _new_rfc5280_validator()


# -- a faster walk of pkilint's validator tree ---------------------------------------------------
#
# pkilint's ValidatorContainer asks every validator's ``match`` at every node (≈ 6,000 calls per
# certificate), and nested containers walk their subtrees again. ``_Walker`` gives the same
# results in the same order: per container, the validators whose static match criteria (path,
# path regex, PDU class) fit a (PDU type, node path) are computed once and cached; ``match`` is
# still called on each of them unless the base ``NodeVisitor.match`` with static criteria only
# would decide exactly as the cache did.

_log = logging.getLogger(__name__)
_PLAN_LIMIT = 4096  # cached (PDU type, path) plans per container; cleared when exceeded

# ``match`` implementations that begin with ``if not super().match(node): return False`` (or
# ``return super().match(node) and ...``), so a failed static criterion means no match. Checked
# against pkilint's sources by tests/unit/test_lint_speed.py.
_MATCH_EXTENDS_BASE = (
    validation.TypeMatchingValidator.match,
    extension.ExtensionCriticalityValidator.match,
    certificate_extension.ExtendedKeyUsageCriticalityValidator.match,
)


def _base_match_first(cls: type) -> bool:
    """Whether every ``match`` along ``cls``'s MRO calls the next one first, down to the base."""
    for klass in cls.__mro__:
        method = klass.__dict__.get("match")
        if method is document.NodeVisitor.match:
            return True
        if method is not None and method not in _MATCH_EXTENDS_BASE:
            return False
    return False


def _plain_container(validator: Any) -> bool:
    """A container that walks exactly as ``ValidatorContainer`` does (so ``_Walker`` may)."""
    cls = type(validator)
    base = validation.ValidatorContainer
    return (isinstance(validator, base) and cls.validate is base.validate
            and cls._validate_rec is base._validate_rec
            and cls.validate_wrapper is validation.Validator.validate_wrapper)


class _Step(NamedTuple):
    """One validator of a container, as planned for a kind of node."""

    validator: Any
    walker: _Walker | None  # a nested plain container, walked by us
    check: bool  # whether its full ``match`` must still be called


class _Walker:
    """Runs one ``ValidatorContainer`` like its ``validate``, with cached match plans."""

    def __init__(self, container: Any) -> None:
        self.container = container
        self._validators = [
            (v, _Walker(v) if _plain_container(v) else None, _base_match_first(type(v)))
            for v in container.validators]
        self._plans: dict[tuple[Any, ...], tuple[_Step, ...]] = {}

    def walk(self, node: Any, results: list[Any]) -> None:
        """``ValidatorContainer._validate_rec``: this node's validators, then its children."""
        pdu = node.pdu
        key = ((type(pdu), node.path) if type(pdu) is not rfc5280.Extension
               else _extension_plan_key(node))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(node, key)
        for validator, walker, check in plan:
            if check and not validator.match(node):
                continue
            if walker is not None:
                walker.nested(node, results)
                continue
            result = validator.validate_wrapper(node)
            if isinstance(result, list):
                results += result
            else:
                results.append(result)
        for child in node.children.values():  # read now: decoding validators add children
            self.walk(child, results)

    def nested(self, node: Any, results: list[Any]) -> None:
        """This container as a validator of its parent (``Validator.validate_wrapper``)."""
        own: list[Any] = []
        try:
            self.walk(node, own)
        except validation.ValidationFindingEncountered as exc:
            found = validation.ValidationFindingDescription(exc.finding, exc.message)
        except Exception as exc:
            _log.exception("Unhandled exception in validator %s on node %s",
                           self.container.name, node.path)
            found = validation.ValidationFindingDescription(
                self.container.VALIDATION_FINDING_UNHANDLED_EXCEPTION, str(exc))
        else:
            results += own
            return
        results.append(validation.ValidationResult(self.container, node, [found]))

    def _plan(self, node: Any, key: tuple[Any, ...]) -> tuple[_Step, ...]:
        """The steps for a node of this plan key, computed and cached."""
        if len(self._plans) >= _PLAN_LIMIT:
            self._plans.clear()
        plan = self._plans[key] = tuple(self._steps(node))
        return plan

    def _steps(self, node: Any) -> Iterable[_Step]:
        for validator, walker, base_first in self._validators:
            if not base_first:
                yield _Step(validator, walker, check=True)
                continue
            static, dynamic = _static_match(validator, node)
            if static:
                yield _Step(validator, walker, check=dynamic)


def _static_match(validator: Any, node: Any) -> tuple[bool, bool]:
    """(whether ``NodeVisitor.match``'s static criteria pass, whether more must be asked).

    Path and path regex depend on the node's path only, the PDU class test on its PDU's type
    only (for a class with the plain ``type`` metaclass); anything else is left to ``match``.
    """
    if validator._path is not None and validator._path != node.path:
        return False, False
    if validator._path_re is not None and validator._path_re.match(node.path) is None:
        return False, False
    named = _general_name_type(validator._predicate)
    if named is not None and named != node.name:
        return False, False
    if not _may_match_extension(validator, node):
        return False, False
    pdu_class = validator._pdu_class
    dynamic = type(validator).match is not document.NodeVisitor.match or (
        validator._pdu_supertype is not None or validator._predicate is not None)
    if pdu_class is not None:
        if type(pdu_class) is not type:
            return True, True
        if not isinstance(node.pdu, pdu_class):
            return False, False
    return True, dynamic


# Plans are per PDU type and path, and for an extension also per extnID: pkilint's validators
# of one extension type (``ExtensionCriticalityValidator`` and ``TypeMatchingValidator`` on
# ``extnID``) then leave the plans of other extensions, rather than being asked at each.

def _extension_plan_key(node: Any) -> tuple[Any, ...]:
    """The plan key of an extension's node: (PDU type, path, extnID)."""
    extn_id = node.children.get("extnID")
    return type(node.pdu), node.path, None if extn_id is None else extn_id.pdu


def _may_match_extension(validator: Any, node: Any) -> bool:
    """False where ``validator`` tests an extension's extnID and this node's is another."""
    if type(node.pdu) is not rfc5280.Extension or "extnID" not in node.children:
        return True
    match = type(validator).match
    if match is extension.ExtensionCriticalityValidator.match:
        wanted = validator._type_oid
    elif match is validation.TypeMatchingValidator.match and validator.type_path == "extnID":
        wanted = validator.type_oid
    else:
        return True
    return bool(node.children["extnID"].pdu == wanted)


# pkilint's GeneralName validators select their nodes with the predicates that
# ``create_generalname_type_predicate(type)`` makes: ``n.name == type and n.parent is not None
# and isinstance(n.parent.pdu, GeneralName)``. The first test depends on the node's name, the
# last part of its path, so a node of another name is left out of the plan (the rest of the
# predicate is still asked). Checked against pkilint's source by tests/unit/test_lint_speed.py.
_GENERAL_NAME_PREDICATE = general_name.create_generalname_type_predicate("dNSName").__code__


def _general_name_type(predicate: Any) -> str | None:
    """The GeneralName type that a ``create_generalname_type_predicate`` predicate selects."""
    if getattr(predicate, "__code__", None) is not _GENERAL_NAME_PREDICATE:
        return None
    (cell,) = predicate.__closure__
    return str(cell.cell_contents)


# -- decoded values, memoised --------------------------------------------------------------------
#
# Most values that pkilint's decoding validators decode (extension values, name attribute
# values, algorithm parameters, otherName values) are the same bytes in every certificate of a
# CA. Decoding is a pure function of (bytes, schema), so the walker's own validator tree reuses
# the pyasn1 value decoded from the same bytes with the same schema object; pkilint still builds
# this certificate's nodes from it and runs every validator on them.

_DECODED_LIMIT = 2048  # memoised (schema, bytes) values; cleared when exceeded; 0 turns it off


class _DecodedValues:
    """pyasn1 values by (schema object, substrate bytes), for ``_MemoDecoder``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._values: dict[tuple[int, bytes], tuple[Any, Any]] = {}

    def get(self, schema: Any, substrate: bytes) -> Any:
        found = self._values.get((id(schema), substrate))
        return None if found is None else found[1]

    def put(self, schema: Any, substrate: bytes, value: Any) -> None:
        if len(self._values) >= self.limit:
            self._values.clear()
        self._values[id(schema), substrate] = (schema, value)  # the schema kept: its id stays


def _memoise_decoders(container: Any, memo: _DecodedValues) -> None:
    """Give every plain ``ValueDecoder`` of the tree a memoised ``decode_value``."""
    for validator in container.validators:
        if isinstance(validator, validation.ValidatorContainer):
            _memoise_decoders(validator, memo)
        decoder = getattr(validator, "decode_func", None)
        if (isinstance(decoder, document.ValueDecoder)
                and type(decoder).decode_value is document.ValueDecoder.decode_value
                and type(decoder).retrieve_substrate is document.ValueDecoder.retrieve_substrate):
            decoder.decode_value = _MemoDecoder(decoder, memo)


class _MemoDecoder:
    """``ValueDecoder.decode_value`` that reuses the value decoded from the same bytes."""

    def __init__(self, decoder: Any, memo: _DecodedValues) -> None:
        self._decoder = decoder
        self._memo = memo

    def __call__(self, node: Any, type_node: Any, value_node: Any, pdu_type: Any) -> Any:
        if value_node is None or any(value_node.children):  # nothing to decode: pkilint's way
            return document.ValueDecoder.decode_value(
                self._decoder, node, type_node, value_node, pdu_type)
        substrate = bytes(self._decoder.retrieve_substrate(value_node))
        value = self._memo.get(pdu_type, substrate)
        if value is None:
            value = _DECODER.sequence_of(pdu_type, substrate)  # items decoded once each
            if value is None:
                child = document.ValueDecoder.decode_value(
                    self._decoder, node, type_node, value_node, pdu_type)
                self._memo.put(pdu_type, substrate, child.pdu)
                return child
            self._memo.put(pdu_type, substrate, value)
        return _NODES.append(value_node.document, value, value_node, shared=True)


# -- URI syntax verdicts, memoised ---------------------------------------------------------------
#
# ``GeneralNameUriSyntaxValidator.validate_value`` asks the ``validators`` package's URL check
# (≈ 70 µs) about every URI of every certificate, and a CA's certificates carry the same three
# (CRL, OCSP, CA certificate). Its verdict depends on the URI's text and on whether the name sits
# in a NameConstraints extension, nothing else; an ``ldap://`` URI, for which it raises a
# finding, is always passed on to it.

_URI_VERDICT_LIMIT = 1024  # memoised verdicts; cleared when exceeded


class _MemoUriSyntax:
    """``validate_value`` of a ``GeneralNameUriSyntaxValidator``, with verdicts memoised."""

    def __init__(self, validate_value: Callable[[Any], bool]) -> None:
        self._validate_value = validate_value
        self._verdicts: dict[tuple[str, bool], bool] = {}

    def __call__(self, node: Any) -> bool:
        value = str(node.pdu)
        if value.casefold().startswith("ldap://"):
            return self._validate_value(node)
        key = (value, general_name.is_nameconstraints_child_node(node))
        verdict = self._verdicts.get(key)
        if verdict is None:
            if len(self._verdicts) >= _URI_VERDICT_LIMIT:
                self._verdicts.clear()
            verdict = self._verdicts[key] = self._validate_value(node)
        return verdict


def _memoise_uri_syntax(container: Any) -> None:
    """Give every ``GeneralNameUriSyntaxValidator`` of the tree a memoised ``validate_value``."""
    for validator in container.validators:
        if isinstance(validator, validation.ValidatorContainer):
            _memoise_uri_syntax(validator)
        if type(validator) is general_name.GeneralNameUriSyntaxValidator:
            validator.validate_value = _MemoUriSyntax(validator.validate_value)


def _memoise_der_equality(container: Any) -> None:
    """Give every plain ``DEREqualityValidator`` of the tree (the signature algorithms' match)
    a ``validate`` that takes kept parts' encodings from ``_DECODER``."""
    for validator in container.validators:
        if isinstance(validator, validation.ValidatorContainer):
            _memoise_der_equality(validator)
        if type(validator).validate is validation.DEREqualityValidator.validate:
            validator.validate = functools.partial(_der_equality, validator)


def _der_equality(validator: Any, node: Any) -> None:
    """``DEREqualityValidator.validate``, with ``_DECODER.encoding`` for ``encode``."""
    other = validator._other_node_retriever(node)
    if _DECODER.encoding(node.pdu) != _DECODER.encoding(other.pdu):
        raise validation.ValidationFindingEncountered(
            validator.validations[0],
            f"DER encoding of {node.path} and {other.path} are not equal")


@functools.cache
def _rfc5280_walker() -> _Walker:
    """The walker over its own copy of the validator tree (decoders and URI verdicts
    memoised)."""
    container = _new_rfc5280_validator()
    if _DECODED_LIMIT:
        _memoise_decoders(container, _DecodedValues(_DECODED_LIMIT))
    _memoise_uri_syntax(container)
    _memoise_der_equality(container)
    return _Walker(container)


def _validate(root: Any) -> list[Any]:
    """What ``_rfc5280_validator().validate(root)`` returns, found faster."""
    results: list[Any] = []
    _rfc5280_walker().walk(root, results)
    return results


_PARTS_LIMIT = 4096  # decoded certificate parts kept by ``_DECODER``


_DECODER = CertificateDecoder(_PARTS_LIMIT)
_NODES = NodeBuilder(_DECODER.is_kept, _PARTS_LIMIT)  # the memoised values are shared too


def _load(der: bytes) -> Any:
    """pkilint's certificate document for ``der``, as its loader makes it (decoding repeated
    parts once: ``pki.lint_decoding``); pkilint's and pyasn1's errors on bad substrate."""
    pdu = _DECODER.decode(der)
    if pdu is None:
        return loader.RFC5280CertificateDocumentLoader().load_der_document(der, "certificate")
    doc = certificate.RFC5280Certificate(None, der, "certificate", None)
    doc.root = _NODES.append(doc, pdu, None)
    return doc


def _pkilint(der: bytes) -> list[Finding]:
    with _LOCK:  # shared decoded parts are read (and their defaults filled in) by the nodes
        try:
            doc = _load(der)
        except Exception as exc:  # pkilint raises its own and pyasn1's errors on bad substrate
            return [Finding(Severity.FATAL, "jpki.undecodable_certificate", str(exc))]
        results = _validate(doc.root)
    findings = [
        Finding(Severity(int(d.finding.severity)), d.finding.code, d.message, str(r.node.path))
        for r in results
        for d in r.finding_descriptions
    ]
    _dismantle(doc)
    return findings


def _dismantle(doc: Any) -> None:
    """Break the document tree's parent/child cycles, so it is freed at once, not by the GC."""
    stack = [doc.root]
    doc.root = None
    while stack:
        children = stack.pop().children
        stack.extend(children.values())
        children.clear()


# -- JPKI profile checks -------------------------------------------------------------------------

_KEY_USAGE = {
    CertificateProfile.ROOT: {"key_cert_sign", "crl_sign"},
    CertificateProfile.LINK: {"key_cert_sign", "crl_sign"},
    CertificateProfile.SIGNING: {"digital_signature", "content_commitment"},
    CertificateProfile.AUTHENTICATION: {"digital_signature"},
    CertificateProfile.OCSP_RESPONDER: {"digital_signature"},
    CertificateProfile.VERIFICATION_SERVICE: {"digital_signature", "content_commitment"},
}
_KU_BITS = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
            "key_agreement", "key_cert_sign", "crl_sign")
_EKU = {
    CertificateProfile.AUTHENTICATION: [oids.EKU_CLIENT_AUTH],
    CertificateProfile.OCSP_RESPONDER: [oids.EKU_OCSP_SIGNING],
}
_CA = (CertificateProfile.ROOT, CertificateProfile.LINK)
_LEAVES = {
    CertificateProfile.SIGNING: CertKind.SIGNING,
    CertificateProfile.AUTHENTICATION: CertKind.AUTHENTICATION,
}


class _Cert(NamedTuple):
    """A parsed certificate with its extensions by value type (looked up a dozen times)."""

    cert: x509.Certificate
    extensions: dict[type, x509.Extension[Any]]

    @classmethod
    def parse(cls, der: bytes, parsed: x509.Certificate | None = None) -> _Cert:
        cert = x509.load_der_x509_certificate(der) if parsed is None else parsed
        by_type: dict[type, x509.Extension[Any]] = {}
        for ext in cert.extensions:  # DuplicateExtension for a repeated OID
            by_type.setdefault(type(ext.value), ext)
        return cls(cert, by_type)


def _ext(c: _Cert, cls: type[Any]) -> x509.Extension[Any] | None:
    return c.extensions.get(cls)


def _check_key_usage(c: _Cert, kind: CertificateProfile) -> Iterable[str]:
    ku = _ext(c, x509.KeyUsage)
    if ku is None or not ku.critical:
        yield "jpki.key_usage_missing_or_not_critical"
        return
    present = {bit for bit in _KU_BITS if getattr(ku.value, bit)}
    if present != _KEY_USAGE[kind]:
        yield "jpki.key_usage_bits"


def _check_basics(c: _Cert, kind: CertificateProfile) -> Iterable[str]:
    cert = c.cert
    if cert.signature_algorithm_oid != oids.SHA256_WITH_RSA:
        yield "jpki.signature_algorithm"
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or (kind in _LEAVES and key.key_size != LEAF_KEY_BITS):
        yield "jpki.public_key"
    try:
        hierarchy = kind_of_ca(cert.issuer)
    except ProfileError:
        yield "jpki.issuer_not_jpki_ca"
        hierarchy = None
    if kind in _CA and cert.subject != cert.issuer:
        yield "jpki.ca_subject_differs_from_issuer"
    if kind in _LEAVES and hierarchy is not None and hierarchy is not _LEAVES[kind]:
        yield "jpki.wrong_hierarchy"
    bc = _ext(c, x509.BasicConstraints)
    is_ca = bc is not None and bc.value.ca
    if kind in _CA and (bc is None or not bc.critical or not is_ca):
        yield "jpki.basic_constraints"
    if kind not in _CA and is_ca:
        yield "jpki.end_entity_is_ca"
    for cls in (x509.SubjectKeyIdentifier, x509.AuthorityKeyIdentifier):
        if _ext(c, cls) is None:
            yield f"jpki.{cls.__name__}_missing"


def _check_leaf(c: _Cert, kind: CertificateProfile) -> Iterable[str]:
    policies = _ext(c, x509.CertificatePolicies)
    wanted = _LEAVES[kind].policy
    if policies is None or [p.policy_identifier for p in policies.value] != [wanted]:
        yield "jpki.certificate_policy"
    for cls in (x509.IssuerAlternativeName, x509.CRLDistributionPoints,
                x509.AuthorityInformationAccess):
        if _ext(c, cls) is None:
            yield f"jpki.{cls.__name__}_missing"
    if kind is CertificateProfile.SIGNING:
        try:
            decode_basic_four(c.cert)
        except BasicFourError:
            yield "jpki.basic_four_san"
    elif _ext(c, x509.SubjectAlternativeName) is not None:
        yield "jpki.personal_data_in_authentication_certificate"


def _check_eku(c: _Cert, kind: CertificateProfile) -> Iterable[str]:
    eku = _ext(c, x509.ExtendedKeyUsage)
    if kind in _EKU and (eku is None or list(eku.value) != _EKU[kind]):
        yield "jpki.extended_key_usage"
    if kind not in _EKU and eku is not None:
        yield "jpki.unexpected_extended_key_usage"
    if kind is CertificateProfile.OCSP_RESPONDER and _ext(c, x509.OCSPNoCheck) is None:
        yield "jpki.ocsp_nocheck_missing"


_UNREADABLE = (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType)


def _jpki(der: bytes, kind: CertificateProfile,
          parsed: x509.Certificate | None = None) -> list[Finding]:
    try:
        cert = _Cert.parse(der, parsed)
        checks: list[Callable[[_Cert, CertificateProfile], Iterable[str]]] = [
            _check_basics, _check_key_usage, _check_eku,
        ]
        if kind in _LEAVES:
            checks.append(_check_leaf)
        codes = [code for check in checks for code in check(cert, kind)]
    except _UNREADABLE as exc:  # cryptography refuses a malformed certificate or extension
        return [Finding(Severity.FATAL, "jpki.unreadable_certificate", str(exc))]
    return [Finding(Severity.ERROR, code, f"not the JPKI {kind.value} profile") for code in codes]


def lint_certificate(der: bytes, kind: CertificateProfile, *,
                     parsed: x509.Certificate | None = None) -> list[Finding]:
    """All findings on a DER certificate intended as ``kind``, most severe first (``parsed``:
    the same certificate already parsed by ``cryptography``, not parsed again)."""
    findings = _pkilint(der)
    if not any(f.severity is Severity.FATAL for f in findings):
        findings += _jpki(der, kind, parsed)
    return sorted(findings, key=lambda f: f.severity)


# -- the throwaway signature ---------------------------------------------------------------------

# The throwaway signature is never verified nor kept: only the TBS it covers matters, and pkilint's
# RFC 5280 validators do not look at the signature value, so the findings are those of the really
# signed certificate (tests/unit/test_lint_speed.py). So no key signs it: ``cryptography`` takes
# any ``RSAPrivateKey`` (the PKCS#11 key store's signer is one too), and ``_Placeholder`` gives
# zeros as long as a CA's RSA-2048 signature. The builder encodes the very certificate that the
# CA key will sign, sha256WithRSAEncryption included, in a tenth of the time of an RSA-1024
# signature.
PLACEHOLDER_SIGNATURE_BYTES = 256


class _Placeholder(rsa.RSAPrivateKey):
    """A throwaway "key" that signs nothing: its signature value is all zeros."""

    def sign(self, data: bytes, padding: AsymmetricPadding,
             algorithm: Prehashed | hashes.HashAlgorithm | NoDigestInfo) -> bytes:
        return bytes(PLACEHOLDER_SIGNATURE_BYTES)

    @property
    def key_size(self) -> int:
        return PLACEHOLDER_SIGNATURE_BYTES * 8

    def public_key(self) -> rsa.RSAPublicKey:
        raise TypeError("a placeholder signer has no key")

    def decrypt(self, ciphertext: bytes, padding: AsymmetricPadding) -> bytes:
        raise TypeError("a placeholder signer has no key")

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        raise TypeError("a placeholder signer has no key")

    def private_bytes(self, encoding: serialization.Encoding,
                      format: serialization.PrivateFormat,
                      encryption_algorithm: serialization.KeySerializationEncryption) -> bytes:
        raise TypeError("a placeholder signer has no key")

    def __copy__(self) -> _Placeholder:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _Placeholder:
        return self


_PLACEHOLDER = _Placeholder()


def throwaway_certificate(builder: x509.CertificateBuilder) -> x509.Certificate:
    """The intended certificate with a placeholder signature value (all zeros).

    Every field but the signature value is what the real signature will cover, so linting this
    lints the certificate about to be issued.
    """
    return builder.sign(_PLACEHOLDER, hashes.SHA256())


def sign_with_throwaway(builder: x509.CertificateBuilder) -> bytes:
    """DER of ``throwaway_certificate(builder)``."""
    return throwaway_certificate(builder).public_bytes(serialization.Encoding.DER)
