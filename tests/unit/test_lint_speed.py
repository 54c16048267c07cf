"""The faster pkilint walk (``pki.lint._validate``) finds exactly what pkilint itself finds, on
the document the faster decoding (``pki.lint_decoding``) builds as pkilint's loader would.

Every certificate is checked against pkilint's own ``ValidatorContainer.validate`` on a fresh
decoding: the profile's certificates (signing, authentication, OCSP responder, roots, links,
verification service) and deliberately broken ones that do produce findings. Each is linted
twice, so the second run goes through memoised decodings too.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier
from pkilint import document, loader, validation
from pkilint.pkix import extension, general_name
from pyasn1.codec.der.encoder import encode
from pyasn1.type import base
from pyasn1_alt_modules import rfc5280
from pyasn1_fasder import decode_der

from pki import lint, lint_decoding
from pki.basic_four import BasicFour, Sex
from pki.eras import PartialDate
from pki.lint import Severity, lint_certificate
from pki.profile import (
    CertificateProfile,
    CertKind,
    Endpoints,
    authentication_certificate,
    new_with_old,
    ocsp_responder_certificate,
    old_with_new,
    random_serial,
    root_certificate,
    sign,
    signing_certificate,
    verification_service_certificate,
)

T0 = datetime(2026, 4, 1, 0, 0, tzinfo=UTC)
T_END = datetime(2046, 3, 31, 14, 59, 59, tzinfo=UTC)
T_ISSUE = datetime(2026, 4, 1, 1, 0, 5, tzinfo=UTC)
T_LEAF_END = datetime(2029, 4, 1, 14, 59, 59, tzinfo=UTC)
ENDPOINTS = Endpoints(crl_url="http://repository.jpki.test/crl/sign-1/112089.crl",
                      ocsp_url="http://repository.jpki.test/ocsp",
                      ca_issuers_url="http://repository.jpki.test/ca/sign-1.cer")
FOUR = BasicFour.from_register("髙橋", "太郎", Sex.MALE, PartialDate.parse("1975-03-15"),
                               "埼玉県所沢市並木1-1-1")
CN = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "broken")])

Result = tuple[str, str, int, str, str | None]  # validator, node path, severity, code, message


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _load(der: bytes) -> Any:
    return loader.RFC5280CertificateDocumentLoader().load_der_document(der, "certificate").root


def _flat(results: list[Any]) -> list[Result]:
    return [(str(r.validator), str(r.node.path), int(d.finding.severity), d.finding.code,
             d.message) for r in results for d in r.finding_descriptions]


def _reference(der: bytes) -> list[Result]:
    """pkilint's own walk, on a fresh decoding, with pkilint's untouched container."""
    return _flat(lint._rfc5280_validator().validate(_load(der)))


def _ours(der: bytes) -> list[Result]:
    return _flat(lint._validate(_load(der)))


# -- the certificates ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def good() -> dict[str, tuple[bytes, CertificateProfile]]:
    """One of each certificate type of the profile, really signed."""
    return {name: (real, kind) for name, (real, _, kind) in _pairs().items()}


@pytest.fixture(scope="module")
def throwaway_and_real() -> dict[str, tuple[bytes, bytes, CertificateProfile]]:
    """Each certificate type signed with the throwaway key and with its real key."""
    return _pairs()


def _pairs() -> dict[str, tuple[bytes, bytes, CertificateProfile]]:
    sign_root, auth_root, new_root, card, other = (_new_key() for _ in range(5))

    def root_of(kind: CertKind, key: rsa.RSAPrivateKey, since: datetime) -> Any:
        return root_certificate(kind, key.public_key(), serial=random_serial(),
                                not_before=since, not_after=T_END)

    roots = {"root": (root_of(CertKind.SIGNING, sign_root, T0), sign_root),
             "auth_root": (root_of(CertKind.AUTHENTICATION, auth_root, T0), auth_root),
             "new_root": (root_of(CertKind.SIGNING, new_root, T_ISSUE), new_root)}
    root, auth, new = (sign(b, k) for b, k in roots.values())
    leaf: dict[str, Any] = {"serial": random_serial(), "not_before": T_ISSUE,
                            "not_after": T_LEAF_END}
    P = CertificateProfile
    Signed = tuple[x509.CertificateBuilder, rsa.RSAPrivateKey, CertificateProfile]
    builders: dict[str, Signed] = {
        "root": (*roots["root"], P.ROOT),
        "auth_root": (*roots["auth_root"], P.ROOT),
        "new_with_old": (new_with_old(root, new_root.public_key(), **leaf), sign_root, P.LINK),
        "old_with_new": (old_with_new(new, sign_root.public_key(), **leaf), new_root, P.LINK),
        "signing": (signing_certificate(
            root, card.public_key(), prefecture="埼玉県", municipality="所沢市",
            issuance_id="S-1", basic_four=FOUR, endpoints=ENDPOINTS, **leaf), sign_root,
            P.SIGNING),
        "authentication": (authentication_certificate(
            auth, card.public_key(), subject_id="A-1", endpoints=ENDPOINTS, **leaf), auth_root,
            P.AUTHENTICATION),
        "ocsp": (ocsp_responder_certificate(root, other.public_key(), **leaf), sign_root,
                 P.OCSP_RESPONDER),
        "service": (verification_service_certificate(
            root, other.public_key(), endpoints=ENDPOINTS, **leaf), sign_root,
            P.VERIFICATION_SERVICE),
    }
    return {name: (_der(sign(builder, key)), lint.sign_with_throwaway(builder), kind)
            for name, (builder, key, kind) in builders.items()}


def _builder(key: rsa.RSAPrivateKey, *, serial: int = 0x7F11223344556677,
             subject: x509.Name = CN) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().issuer_name(CN).subject_name(subject)
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(datetime(2026, 1, 1, tzinfo=UTC))
            .not_valid_after(datetime(2027, 1, 1, tzinfo=UTC)))


def _patch(der: bytes, old: bytes, new: bytes) -> bytes:
    """Replace one occurrence of ``old`` by ``new`` (same length: the DER stays well formed)."""
    assert len(old) == len(new) and der.count(old) == 1
    return der.replace(old, new)


KU = x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                   data_encipherment=False, key_agreement=False, key_cert_sign=False,
                   crl_sign=False, encipher_only=False, decipher_only=False)


def _broken_builders(key: rsa.RSAPrivateKey) -> dict[str, x509.CertificateBuilder]:
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    unknown = ObjectIdentifier("1.2.392.200149.99.1")
    return {
        "empty_subject_no_san": _builder(key, subject=x509.Name([])),
        "key_usage_not_critical": _builder(key).add_extension(KU, critical=False),
        "unknown_critical_extension": _builder(key).add_extension(
            x509.UnrecognizedExtension(unknown, b"\x05\x00"), critical=True),
        "garbage_crl_distribution_points": _builder(key).add_extension(
            x509.UnrecognizedExtension(ObjectIdentifier("2.5.29.31"), b"\x30\x03\x02\x01"),
            critical=False),
        "garbage_key_usage": _builder(key).add_extension(
            x509.UnrecognizedExtension(ObjectIdentifier("2.5.29.15"), b"\x04\x02\x07\x80"),
            critical=True),
        "bad_san_names": _builder(key).add_extension(x509.SubjectAlternativeName([
            x509.DNSName("bad..name"), x509.UniformResourceIdentifier("no scheme"),
            x509.RFC822Name("not-an-address")]), critical=False),
        "uri_forms": _builder(key).add_extension(x509.SubjectAlternativeName([
            x509.UniformResourceIdentifier("ldap://ldap.example.test/cn=x"),
            x509.UniformResourceIdentifier("http://ok.example.test/a"),
            x509.UniformResourceIdentifier("no scheme")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.NameConstraints(permitted_subtrees=[
            x509.UniformResourceIdentifier(".example.test"),
            x509.UniformResourceIdentifier("bad..domain"),
            x509.UniformResourceIdentifier("no scheme")], excluded_subtrees=None),
            critical=True),
        "ec_key_until_2051": x509.CertificateBuilder().issuer_name(CN).subject_name(CN)
        .public_key(ec.generate_private_key(ec.SECP256R1()).public_key())
        .serial_number(0x7F11223344556677)
        .not_valid_before(datetime(2026, 1, 1, tzinfo=UTC))
        .not_valid_after(datetime(2051, 1, 1, tzinfo=UTC))  # a GeneralizedTime
        .add_extension(KU, critical=False),
        "ca_without_key_usage": _builder(key).add_extension(
            x509.BasicConstraints(ca=True, path_length=None), critical=False),
        "email_in_subject": _builder(key, subject=x509.Name([
            x509.NameAttribute(NameOID.EMAIL_ADDRESS, "someone@example.test")])).add_extension(
            ski, critical=True),
        "policy_qualifier_and_eku": _builder(key).add_extension(x509.CertificatePolicies([
            x509.PolicyInformation(ObjectIdentifier("2.5.29.32.0"), [
                "not a uri", x509.UserNotice(None, "x" * 250)])]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.TIME_STAMPING]),
                       critical=False),
    }


@pytest.fixture(scope="module")
def broken() -> dict[str, bytes]:
    """Certificates that pkilint finds fault with (some patched after signing: it only parses)."""
    key = _new_key()
    out = {name: _der(b.sign(key, hashes.SHA256())) for name, b in _broken_builders(key).items()}
    plain = _der(_builder(key).add_extension(KU, critical=True).sign(key, hashes.SHA256()))
    serial = bytes.fromhex("02087f11223344556677")
    out["negative_serial"] = _patch(plain, serial, bytes.fromhex("0208ff11223344556677"))
    small = _der(_builder(key, serial=1).sign(key, hashes.SHA256()))
    out["zero_serial"] = _patch(small, bytes.fromhex("a00302010202010130"),
                                bytes.fromhex("a00302010202010030"))
    out["not_before_after_not_after"] = _patch(
        _patch(plain, b"260101000000Z", b"280101000000Z"), b"270101000000Z", b"260101000000Z")
    sha256, sha384 = (bytes.fromhex("300d06092a864886f70d0101") + bytes([n]) + b"\x05\x00"
                      for n in (0x0B, 0x0C))
    at = plain.rindex(sha256)  # the outer signatureAlgorithm, after the TBS's own
    out["signature_algorithm_mismatch"] = plain[:at] + sha384 + plain[at + len(sha256):]
    twice = _builder(key).add_extension(KU, critical=True).add_extension(
        x509.UnrecognizedExtension(ObjectIdentifier("2.5.29.99"), b"\x03\x02\x07\x80"),
        critical=True)
    out["duplicate_key_usage"] = _patch(_der(twice.sign(key, hashes.SHA256())),
                                        bytes.fromhex("0603551d63"), bytes.fromhex("0603551d0f"))
    return out


# -- the same findings ---------------------------------------------------------------------------

GOOD = ("root", "auth_root", "new_with_old", "old_with_new", "signing", "authentication",
        "ocsp", "service")
BROKEN = ("empty_subject_no_san", "key_usage_not_critical", "unknown_critical_extension",
          "garbage_crl_distribution_points", "garbage_key_usage", "bad_san_names", "uri_forms",
          "ec_key_until_2051", "ca_without_key_usage", "email_in_subject",
          "policy_qualifier_and_eku", "negative_serial", "zero_serial",
          "not_before_after_not_after", "duplicate_key_usage", "signature_algorithm_mismatch")


@pytest.mark.parametrize("name", GOOD)
def test_the_profile_certificates_get_pkilints_own_findings(
        name: str, good: dict[str, tuple[bytes, CertificateProfile]]) -> None:
    der, _ = good[name]
    reference = _reference(der)
    assert reference, "pkilint reports at least its INFO/NOTICE findings on every certificate"
    for _ in range(2):  # the second time through memoised decodings
        assert _ours(der) == reference


@pytest.mark.parametrize("name", GOOD)
def test_the_throwaway_signature_gets_the_findings_of_the_real_one(
        name: str, throwaway_and_real: dict[str, tuple[bytes, bytes, CertificateProfile]]) -> None:
    real, throwaway, kind = throwaway_and_real[name]
    assert (x509.load_der_x509_certificate(real).tbs_certificate_bytes
            == x509.load_der_x509_certificate(throwaway).tbs_certificate_bytes)
    assert _reference(throwaway) == _reference(real)
    assert lint_certificate(throwaway, kind) == lint_certificate(real, kind)


def test_the_throwaway_signature_is_a_placeholder_no_key_makes() -> None:
    cert = lint.throwaway_certificate(_builder(_new_key()))
    assert cert.signature == bytes(256)
    assert cert.signature_algorithm_oid == x509.oid.SignatureAlgorithmOID.RSA_WITH_SHA256
    for reveal in (lint._PLACEHOLDER.public_key, lint._PLACEHOLDER.private_numbers):
        with pytest.raises(TypeError, match="no key"):
            reveal()


@pytest.mark.parametrize("name", BROKEN)
def test_broken_certificates_get_pkilints_own_findings(name: str,
                                                       broken: dict[str, bytes]) -> None:
    der = broken[name]
    reference = _reference(der)
    assert [r for r in reference if r[2] <= Severity.WARNING], "not vacuous: real findings"
    for _ in range(2):
        assert _ours(der) == reference


EXPECTED = {
    "negative_serial": "pkix.certificate_serial_number_out_of_range",
    "zero_serial": "pkix.certificate_serial_number_out_of_range",
    "key_usage_not_critical": "pkix.key_usage_extension_not_critical",
    "garbage_crl_distribution_points": "itu.invalid_asn1_syntax",
    "garbage_key_usage": "itu.invalid_asn1_syntax",
    "bad_san_names": "pkix.invalid_domain_name_syntax",
    "uri_forms": "pkix.ldap_uri_not_validated",
    "ec_key_until_2051": "pkix.key_usage_extension_not_critical",
    "ca_without_key_usage": "pkix.ca_certificate_no_ku_extension",
    "email_in_subject": "pkix.subject_email_address_not_in_san",
    "policy_qualifier_and_eku": "pkix.extended_key_usage_extension_with_timestamping_not_critical",
    "not_before_after_not_after": "pkix.certificate_negative_validity_period",
    "duplicate_key_usage": "pkix.duplicate_extension",
    "signature_algorithm_mismatch": "pkix.certificate_signature_algorithm_mismatch",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_broken_certificates_are_broken_as_meant(name: str, broken: dict[str, bytes]) -> None:
    assert EXPECTED[name] in {r[3] for r in _reference(broken[name])}


@pytest.mark.filterwarnings("ignore:Parsed a serial number which wasn't positive")
def test_lint_certificate_reports_exactly_pkilints_findings(
        good: dict[str, tuple[bytes, CertificateProfile]], broken: dict[str, bytes]) -> None:
    """End to end, as a multiset: ``lint_certificate``'s pkilint part is pkilint's output."""
    cases = [*good.values(), *((der, CertificateProfile.SIGNING) for der in broken.values())]
    for der, kind in cases * 2:
        expected = Counter((Severity(r[2]), r[3], r[4], r[1]) for r in _reference(der))
        found = Counter((f.severity, f.code, f.message, f.path)
                        for f in lint_certificate(der, kind) if not f.code.startswith("jpki."))
        assert found == expected


def test_a_duplicate_extension_is_refused_not_a_crash(broken: dict[str, bytes]) -> None:
    findings = lint_certificate(broken["duplicate_key_usage"], CertificateProfile.SIGNING)
    assert {"pkix.duplicate_extension", "jpki.unreadable_certificate"} <= {
        f.code for f in findings}


def test_memoised_values_are_not_changed_by_linting(
        good: dict[str, tuple[bytes, CertificateProfile]], broken: dict[str, bytes]) -> None:
    """Shared decoded values still encode to the very bytes they were decoded from."""
    for der in [d for d, _ in good.values()] * 2 + list(broken.values()) * 2:
        lint._validate(_load(der))
    memo = _memo()
    assert memo
    for (_, substrate), (_, value) in memo.items():
        assert encode(value) == substrate


def _memo() -> dict[tuple[int, bytes], tuple[Any, Any]]:
    validators = _all_validators(lint._rfc5280_walker().container)
    decoders = [v.decode_func.decode_value for v in validators
                if isinstance(getattr(v, "decode_func", None), document.ValueDecoder)]
    memos = {id(d._memo): d._memo for d in decoders if isinstance(d, lint._MemoDecoder)}
    assert len(memos) == 1
    return next(iter(memos.values()))._values


def _all_validators(container: Any) -> Iterator[Any]:
    for v in container.validators:
        yield v
        if isinstance(v, validation.ValidatorContainer):
            yield from _all_validators(v)


# -- the decoding: repeated parts decoded once (pki.lint_decoding) -----------------------------

FAST_BROKEN = ("key_usage_not_critical", "unknown_critical_extension",
               "garbage_crl_distribution_points", "garbage_key_usage", "bad_san_names",
               "uri_forms", "ec_key_until_2051", "ca_without_key_usage", "email_in_subject",
               "policy_qualifier_and_eku", "negative_serial", "not_before_after_not_after",
               "duplicate_key_usage", "signature_algorithm_mismatch")


def _differences(a: Any, b: Any, path: str = "") -> str | None:
    """Where two pyasn1 values differ in type or in any attribute (None: nowhere)."""
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} / {type(b).__name__}"
    if isinstance(a, (list, tuple)):
        if len(a) != len(b):
            return f"{path}: {len(a)} / {len(b)} items"
        return next((d for i, (x, y) in enumerate(zip(a, b, strict=True))
                     if (d := _differences(x, y, f"{path}[{i}]"))), None)
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return f"{path}: keys {sorted(a)} / {sorted(b)}"
        return next((d for k in a if (d := _differences(a[k], b[k], f"{path}.{k}"))), None)
    if isinstance(a, base.Asn1Item) or type(a).__name__ == "DynamicNames":
        return _differences(vars(a), vars(b), path)
    return None if a is b or a == b else f"{path}: {a!r} / {b!r}"


def _nodes(node: Any) -> Iterator[tuple[type, list[str], str, str, type, Any]]:
    yield (type(node), sorted(vars(node)), node.path, node.name, type(node.pdu),
           node.parent and node.parent.path)
    for child in node.children.values():
        yield from _nodes(child)


def _all_nodes(node: Any) -> Iterator[Any]:
    yield node
    for child in node.children.values():
        yield from _all_nodes(child)


def _assert_same_document(der: bytes) -> None:
    """Loaded and then validated (decoded values added), our document is pkilint's."""
    fresh, ours = _load(der), lint._load(der).root
    assert list(_nodes(ours)) == list(_nodes(fresh))
    assert _differences(ours.pdu, fresh.pdu) is None
    assert _flat(lint._validate(ours)) == _flat(lint._rfc5280_validator().validate(fresh))
    assert list(_nodes(ours)) == list(_nodes(fresh))
    for mine, theirs in zip(_all_nodes(ours), _all_nodes(fresh), strict=True):
        assert _differences(mine.pdu, theirs.pdu) is None, mine.path  # decoded values too
        assert mine.document is ours.document
        assert all(child.parent is mine for child in mine.children.values())
    assert ours.document is not fresh.document and ours.document.substrate == der


@pytest.mark.parametrize("name", GOOD)
def test_the_decoder_gives_pkilints_own_document(
        name: str, throwaway_and_real: dict[str, tuple[bytes, bytes, CertificateProfile]]
) -> None:
    real, throwaway, _ = throwaway_and_real[name]
    for der in (real, throwaway, real):  # the second and third through shared parts
        assert lint._DECODER.decode(der) is not None, "decoded part by part"
        _assert_same_document(der)


@pytest.mark.parametrize("name", BROKEN)
def test_the_decoder_gives_pkilints_own_document_for_broken_certificates(
        name: str, broken: dict[str, bytes]) -> None:
    der = broken[name]
    assert (lint._DECODER.decode(der) is not None) is (name in FAST_BROKEN)
    for _ in range(2):
        _assert_same_document(der)


def _v1(der: bytes) -> bytes:
    """``der`` re-encoded as a version 1 certificate: no version element."""
    cert, _ = decode_der(der, asn1Spec=rfc5280.Certificate())
    cert["tbsCertificate"]["version"] = 0
    return bytes(encode(cert))


def test_shapes_the_decoder_does_not_expect_go_to_pkilints_loader(
        good: dict[str, tuple[bytes, CertificateProfile]]) -> None:
    der, kind = good["signing"]
    non_minimal = b"\x30\x83\x00" + der[2:]  # the outer length in four bytes, not three
    unexpected = {"trailing byte": der + b"\x00", "truncated": der[:-1], "version 1": _v1(der),
                  "non-minimal length": non_minimal}
    for what, variant in unexpected.items():
        assert lint._DECODER.decode(variant) is None, what
        findings = lint_certificate(variant, kind)
        if what == "version 1":
            assert Counter((f.severity, f.code, f.message, f.path) for f in findings
                           if not f.code.startswith("jpki.")) == Counter(
                (Severity(r[2]), r[3], r[4], r[1]) for r in _reference(variant))
            assert "pkix.certificate_version_is_not_v3" in {f.code for f in findings}
        else:
            assert [f.code for f in findings] == ["jpki.undecodable_certificate"], what


@pytest.mark.filterwarnings("ignore:Parsed a serial number which wasn't positive")
def test_shared_parts_are_not_changed_by_linting(
        good: dict[str, tuple[bytes, CertificateProfile]], broken: dict[str, bytes]) -> None:
    for der in [d for d, _ in good.values()] * 2 + list(broken.values()) * 2:
        lint_certificate(der, CertificateProfile.SIGNING)
    parts = lint._DECODER._parts
    assert len(parts) > 20
    for (_, substrate), value in parts.items():
        assert encode(value) == substrate


# -- the walk itself, on made-up validator trees -------------------------------------------------

class _Recorder(validation.Validator):
    """Records every node it validates; optionally raises from ``match`` or ``validate``."""

    def __init__(self, log: list[str], tag: str, *, fail_match_at: str | None = None,
                 finding_in_match_at: str | None = None, **kwargs: Any) -> None:
        super().__init__(validations=[], **kwargs)
        self.log, self.tag = log, tag
        self.fail_match_at, self.finding_in_match_at = fail_match_at, finding_in_match_at

    def match(self, node: Any) -> bool:
        if node.path == self.fail_match_at:
            raise RuntimeError(f"match failed at {node.path}")
        if node.path == self.finding_in_match_at:
            raise validation.ValidationFindingEncountered(
                validation.ValidationFinding(validation.ValidationFindingSeverity.ERROR,
                                             "test.found_in_match"), "from match")
        return bool(super().match(node))

    def validate(self, node: Any) -> None:
        self.log.append(f"{self.tag}@{node.path}")
        if node.path.endswith("serialNumber") and self.tag == "boom":
            raise ValueError("boom")


class _Opaque(validation.Validator):
    """A ``match`` that does not begin with the base checks: it must be asked at every node."""

    def __init__(self, log: list[str]) -> None:
        super().__init__(validations=[], pdu_class=rfc5280.Extension)
        self.log = log

    def match(self, node: Any) -> bool:
        self.log.append(f"asked@{node.path}")
        return node.path.endswith("validity")


def _tree(log: list[str]) -> Any:
    container = validation.ValidatorContainer
    return container(validators=[
        _Recorder(log, "any"),
        container(validators=[
            _Recorder(log, "ext", pdu_class=rfc5280.Extension),
            _Recorder(log, "failing", fail_match_at="certificate.tbsCertificate.extensions.1"),
        ], path="certificate.tbsCertificate.extensions"),
        container(validators=[
            _Recorder(log, "in-match", finding_in_match_at="certificate.tbsCertificate.issuer"),
        ], path="certificate.tbsCertificate"),
        _Recorder(log, "boom", pdu_class=rfc5280.CertificateSerialNumber),
        _Opaque(log),
        _Recorder(log, "re", path_re=document.get_re_for_path_glob("*.validity.*")),
    ])


def _run(walk: Callable[[Any, Any], list[Any]], der: bytes) -> tuple[list[Result], list[str]]:
    log: list[str] = []
    results = walk(_tree(log), _load(der))
    return _flat(results), log


def test_the_walk_equals_pkilints_on_a_tree_with_failures_and_opaque_matches(
        good: dict[str, tuple[bytes, CertificateProfile]]) -> None:
    der, _ = good["signing"]

    def ours(tree: Any, root: Any) -> list[Any]:
        results: list[Any] = []
        walker = lint._Walker(tree)
        walker.walk(root, results)
        walker.walk(_load(der), [])  # again with the plans cached
        return results

    expected, expected_log = _run(lambda tree, root: tree.validate(root), der)
    found, found_log = _run(ours, der)
    assert found == expected
    assert found_log[:len(expected_log)] == expected_log  # same calls, same order
    codes = {r[3] for r in expected}
    assert {"base.unhandled_exception", "test.found_in_match"} <= codes
    assert any(entry.startswith("asked@") for entry in expected_log)


# -- what the pre-filter relies on -------------------------------------------------------------

@pytest.mark.parametrize("method", lint._MATCH_EXTENDS_BASE, ids=lambda m: m.__qualname__)
def test_allowed_match_overrides_begin_with_the_base_checks(method: Callable[..., Any]) -> None:
    """A pkilint upgrade that changes one of these ``match`` methods must fail here."""
    body = ast.parse(textwrap.dedent(inspect.getsource(method))).body[0]
    assert isinstance(body, ast.FunctionDef)
    first = body.body[0]
    source = ast.unparse(first)
    assert source.startswith(("if not super().match(node):\n    return False",
                              "return super().match(node) and ")), source


def test_validators_with_other_match_methods_are_always_asked() -> None:
    class Other(validation.Validator):
        def match(self, node: Any) -> bool:
            return True

    assert not lint._base_match_first(Other)
    assert lint._base_match_first(validation.Validator)
    assert lint._base_match_first(validation.TypeMatchingValidator)


def test_general_name_predicates_test_the_node_name_first() -> None:
    """A pkilint upgrade that changes how GeneralName validators pick their nodes fails here."""
    source = inspect.getsource(general_name.create_generalname_type_predicate)
    returned = next(node for node in ast.walk(ast.parse(textwrap.dedent(source)))
                    if isinstance(node, ast.Return))
    assert isinstance(returned.value, ast.Lambda)
    first = returned.value.body
    assert isinstance(first, ast.BoolOp) and isinstance(first.op, ast.And)
    assert ast.unparse(first.values[0]) == "n.name == generalname_type"
    predicate = general_name.create_generalname_type_predicate("uniformResourceIdentifier")
    assert predicate.__code__.co_freevars == ("generalname_type",)
    assert lint._general_name_type(predicate) == "uniformResourceIdentifier"
    assert lint._general_name_type(lambda n: True) is None
    assert lint._general_name_type(None) is None
    selected = [lint._general_name_type(v._predicate) for v in
                general_name.GeneralNameValidatorContainer().validators]
    assert sum(t is not None for t in selected) >= 7


@pytest.mark.parametrize(("method", "test"), [
    (extension.ExtensionCriticalityValidator.match,
     ("node_oid = node.children['extnID'].pdu", "return self._type_oid == node_oid")),
    (validation.TypeMatchingValidator.match,
     ("type_node = node.navigate(self.type_path)", "return type_node.pdu == self.type_oid")),
], ids=["ExtensionCriticalityValidator", "TypeMatchingValidator"])
def test_extension_validators_test_the_extn_id_after_the_base_checks(
        method: Callable[..., Any], test: tuple[str, str]) -> None:
    """What ``_may_match_extension`` decides from the plan's extnID is what ``match`` tests."""
    body = ast.parse(textwrap.dedent(inspect.getsource(method))).body[0]
    assert isinstance(body, ast.FunctionDef)
    assert [ast.unparse(statement) for statement in body.body[1:]] == list(test)


def test_extension_plans_leave_out_the_validators_of_other_extensions(
        good: dict[str, tuple[bytes, CertificateProfile]]) -> None:
    der, _ = good["signing"]
    root = _load(der)
    extensions = list(root.navigate("tbsCertificate.extensions").children.values())
    for node in extensions:
        oid = node.children["extnID"].pdu
        for validator in _all_validators(lint._rfc5280_walker().container):
            if isinstance(validator, extension.ExtensionCriticalityValidator):
                assert lint._may_match_extension(validator, node) is (
                    validator._type_oid == oid)
    assert len({lint._extension_plan_key(node) for node in extensions}) == len(extensions)


def test_the_split_leaves_multi_byte_tags_and_odd_lengths_to_pkilint() -> None:
    general_names = rfc5280.GeneralNames()
    decoder = lint_decoding.CertificateDecoder(16)
    uri = b"\x86\x0ahttp://a.b"
    assert decoder.sequence_of(general_names, b"\x30\x0c" + uri) is not None
    for odd in (b"\x30\x06\xbf\x1f\x03\x00\x01\x00",  # a tag number in two bytes
                b"\x30\x81\x0c" + uri,  # a length DER writes in one byte
                b"\x30\x0d" + uri + b"\x00",  # trailing byte inside
                b"\x30\x0c" + uri + b"\x00",  # trailing byte after
                b"\x30\x00"):  # no item
        assert decoder.sequence_of(general_names, odd) is None, odd.hex()
    assert decoder.sequence_of(rfc5280.Name(), b"\x30\x00") is None  # not a SEQUENCE OF
