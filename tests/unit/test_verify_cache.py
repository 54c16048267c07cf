"""The verifier's fast path: passing path validations are remembered per trust store, keyed by
the certificates and the evidence's bytes, and never outlive what they were judged on.

Each test counts the path validations pyhanko-certvalidator really performs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from cryptography import x509

import pki.verify.trust
from pki.signing.xml import sign_xml
from pki.verify import Indication, NoEvidence, SubIndication, TrustStore, verify_xml
from pki.verify.path_cache import MAX_AGE, PathCache, evidence_until, path_key
from tests.unit.test_verify import (
    AT,
    EXAMPLE,
    T_ROOT_END,
    Authority,
    Evidence,
    Holder,
    good,
    make_authority,
)

LONG = timedelta(days=30)  # a cache whose own age limit never decides: the evidence does


@pytest.fixture(scope="module")
def signed(holder: Holder) -> bytes:
    return sign_xml(EXAMPLE, holder.signer, holder.cert)


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """One entry per path validation pyhanko-certvalidator is asked to perform."""
    performed: list[int] = []
    original = pki.verify.trust.CertificateValidator

    class Counting(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            performed.append(1)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(pki.verify.trust, "CertificateValidator", Counting)
    return performed


def _store(authority: Authority, max_age: timedelta = MAX_AGE) -> TrustStore:
    return TrustStore((authority.cert,), path_cache=PathCache(max_age=max_age))


def _outcome(document: bytes, trust: TrustStore, evidence: Any, at: datetime = AT
             ) -> tuple[Indication, SubIndication | None]:
    (signature,) = verify_xml(document, trust=trust, evidence=evidence, at=at).signatures
    return signature.indication, signature.sub_indication


PASSED = (Indication.TOTAL_PASSED, None)


def test_the_same_evidence_again_skips_path_validation_with_the_same_report(
        signed: bytes, authority: Authority, holder: Holder, validations: list[int]) -> None:
    trust, evidence = _store(authority), good(authority, holder.cert)
    first = verify_xml(signed, trust=trust, evidence=evidence, at=AT)
    second = verify_xml(signed, trust=trust, evidence=evidence, at=AT)
    assert first.indication is Indication.TOTAL_PASSED
    assert second.to_json(include_basic_four=True) == first.to_json(include_basic_four=True)
    assert len(validations) == 1
    assert len(evidence.asked) == 2  # the evidence is still asked every time
    assert len(trust.path_cache) == 1


def test_a_revocation_is_reported_at_once_though_a_pass_was_cached(
        signed: bytes, authority: Authority, holder: Holder, validations: list[int]) -> None:
    """Revoking changes the OCSP response, so the cached pass no longer matches."""
    trust, evidence = _store(authority, LONG), good(authority, holder.cert)
    assert _outcome(signed, trust, evidence) == PASSED
    evidence.responses = {holder.cert.serial_number: authority.ocsp(
        holder.cert, status="revoked", revoked_at=AT - timedelta(minutes=1),
        reason=x509.ReasonFlags.affiliation_changed)}
    assert _outcome(signed, trust, evidence) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
    assert _outcome(signed, trust, evidence) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
    assert len(validations) == 3  # failures are never served from the cache


def test_a_revocation_by_crl_is_reported_at_once(
        signed: bytes, authority: Authority, holder: Holder, validations: list[int]) -> None:
    trust = _store(authority, LONG)
    assert _outcome(signed, trust, Evidence(crl_list=[authority.crl()])) == PASSED
    listed = Evidence(crl_list=[authority.crl(
        [(holder.cert, AT - timedelta(minutes=1), x509.ReasonFlags.key_compromise)])])
    assert _outcome(signed, trust, listed) == (Indication.TOTAL_FAILED, SubIndication.REVOKED)
    assert len(validations) == 2


def test_a_cached_pass_serves_until_the_evidence_next_update_and_no_longer(
        signed: bytes, authority: Authority, holder: Holder, validations: list[int]) -> None:
    trust, evidence = _store(authority, LONG), good(authority, holder.cert)  # next: AT + 23 h
    assert _outcome(signed, trust, evidence) == PASSED
    assert _outcome(signed, trust, evidence, AT + timedelta(hours=22)) == PASSED
    assert len(validations) == 1
    stale = AT + timedelta(hours=23, minutes=1)
    assert _outcome(signed, trust, evidence, stale) == (Indication.INDETERMINATE,
                                                        SubIndication.TRY_LATER)
    assert len(validations) == 2


def test_a_cached_pass_ends_when_the_certificate_expires(
        signed: bytes, authority: Authority, holder: Holder, validations: list[int]) -> None:
    expiry = holder.cert.not_valid_after_utc
    # evidence from before the expiry that stays current for almost a day after it
    trust = _store(authority, LONG)
    evidence = good(authority, holder.cert, at=expiry - timedelta(minutes=30))
    assert _outcome(signed, trust, evidence, expiry - timedelta(minutes=30)) == PASSED
    after = expiry + timedelta(minutes=30)
    assert _outcome(signed, trust, evidence, after) == (Indication.INDETERMINATE,
                                                        SubIndication.EXPIRED)
    assert len(validations) == 2


def test_an_earlier_validation_time_is_judged_afresh(
        signed: bytes, authority: Authority, holder: Holder, validations: list[int]) -> None:
    trust, evidence = _store(authority, LONG), good(authority, holder.cert)
    assert _outcome(signed, trust, evidence) == PASSED
    assert _outcome(signed, trust, evidence, AT - timedelta(minutes=30)) == PASSED
    assert len(validations) == 2
    too_early = AT - timedelta(hours=2)  # before the evidence's thisUpdate
    assert _outcome(signed, trust, evidence, too_early) == (Indication.INDETERMINATE,
                                                            SubIndication.TRY_LATER)


def test_the_cache_age_limit_applies(signed: bytes, authority: Authority, holder: Holder,
                                     validations: list[int]) -> None:
    trust, evidence = _store(authority, timedelta(minutes=5)), good(authority, holder.cert)
    assert _outcome(signed, trust, evidence) == PASSED
    assert _outcome(signed, trust, evidence, AT + timedelta(minutes=5)) == PASSED
    assert len(validations) == 1
    assert _outcome(signed, trust, evidence, AT + timedelta(minutes=6)) == PASSED
    assert len(validations) == 2


def test_failures_are_not_cached(signed: bytes, authority: Authority, holder: Holder,
                                 validations: list[int]) -> None:
    trust = _store(authority, LONG)
    for _ in range(2):
        assert _outcome(signed, trust, NoEvidence()) == (Indication.INDETERMINATE,
                                                         SubIndication.TRY_LATER)
    assert len(trust.path_cache) == 0
    assert _outcome(signed, trust, good(authority, holder.cert)) == PASSED
    assert len(validations) == 3


def test_each_trust_store_has_its_own_cache(signed: bytes, authority: Authority,
                                            holder: Holder, validations: list[int]) -> None:
    """A new trust store (the CA rolled over) judges everything afresh; a stranger's roots
    never profit from a pass under ours."""
    evidence = good(authority, holder.cert)
    assert _outcome(signed, _store(authority), evidence) == PASSED
    assert _outcome(signed, _store(authority), evidence) == PASSED
    assert len(validations) == 2
    stranger = TrustStore((make_authority().cert,))
    assert _outcome(signed, stranger, evidence) == (Indication.INDETERMINATE,
                                                    SubIndication.NO_CERTIFICATE_CHAIN_FOUND)


def test_the_key_covers_certificates_and_evidence(authority: Authority, holder: Holder) -> None:
    ocsp = authority.ocsp(holder.cert)
    base = path_key(holder.cert, [], [ocsp], [])
    assert path_key(holder.cert, [], [ocsp], []) == base
    assert path_key(holder.cert, [authority.cert], [ocsp], []) != base
    assert path_key(holder.cert, [], [authority.ocsp(holder.cert, at=AT + timedelta(
        seconds=1))], []) != base
    assert path_key(holder.cert, [], [], [ocsp]) != base  # the same bytes as a CRL
    assert path_key(authority.responder, [], [ocsp], []) != base


def test_how_long_evidence_holds(authority: Authority, holder: Holder) -> None:
    serials = frozenset({holder.cert.serial_number})

    def issuer_of(cert: x509.Certificate) -> x509.Certificate | None:
        return authority.cert if cert.issuer == authority.cert.subject else None

    ocsp = authority.ocsp(holder.cert)
    assert evidence_until([ocsp], [], serials, issuer_of) == AT + timedelta(hours=23)
    crl = authority.crl()
    assert evidence_until([ocsp], [crl], serials, issuer_of) == AT + timedelta(hours=23)
    # a responder certificate that expires first bounds it
    late = authority.ocsp(holder.cert, at=T_ROOT_END)
    assert evidence_until([late], [], serials, issuer_of) == authority.responder.not_valid_after_utc
    # revoked, or listed on a CRL (even from a later date): never cached
    revoked = authority.ocsp(holder.cert, status="revoked", revoked_at=AT,
                             reason=x509.ReasonFlags.key_compromise)
    assert evidence_until([revoked], [], serials, issuer_of) is None
    listed = authority.crl([(holder.cert, AT + timedelta(days=1),
                             x509.ReasonFlags.key_compromise)])
    assert evidence_until([], [listed], serials, issuer_of) is None
    assert evidence_until([], [], serials, issuer_of) is None


def test_the_cache_is_bounded_and_ages(authority: Authority) -> None:
    cache = PathCache(max_entries=2, max_age=timedelta(minutes=5))
    far = AT + timedelta(days=1)
    for key in (b"a", b"b"):
        cache.remember(key, AT, far)
    assert cache.passed(b"a", AT)  # a is now the most recently used
    cache.remember(b"c", AT, far)
    assert len(cache) == 2
    assert not cache.passed(b"b", AT) and cache.passed(b"a", AT) and cache.passed(b"c", AT)
    assert cache.passed(b"a", AT + timedelta(minutes=5))
    assert not cache.passed(b"a", AT + timedelta(minutes=5, seconds=1))
    assert not cache.passed(b"c", AT - timedelta(seconds=1))
    cache.remember(b"d", AT, AT)  # nothing left of its window: not kept
    assert not cache.passed(b"d", AT)
    cache.clear()
    assert len(cache) == 0
    with pytest.raises(ValueError):
        PathCache(max_entries=0)
    with pytest.raises(ValueError):
        PathCache(max_age=timedelta(0))


def test_a_trust_store_is_reloaded_only_for_an_issuer_it_does_not_hold(
        signed: bytes, authority: Authority, holder: Holder) -> None:
    current = _store(authority)
    asked: list[int] = []

    def reload() -> TrustStore:
        asked.append(1)
        return current

    stale = TrustStore((make_authority().cert,), reload=reload)  # made before a rollover
    evidence = good(authority, holder.cert)
    assert _outcome(signed, stale, evidence) == PASSED
    assert len(asked) == 1 and len(current.path_cache) == 1 and len(stale.path_cache) == 0
    assert _outcome(signed, current, evidence) == PASSED
    holding = TrustStore((authority.cert,), reload=reload)
    assert _outcome(signed, holding, evidence) == PASSED
    assert len(asked) == 1
