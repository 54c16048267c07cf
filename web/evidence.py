"""What the verifier trusts and asks: the JPKI roots of every generation with their link
certificates, and revocation evidence from our own OCSP responder (never fetched elsewhere).

``trust_store`` reads the CA's generations and links once per CA object and kind, and keeps the
:class:`~pki.verify.TrustStore` with what it derives (the roots in pyhanko's form, its cache of
passing path validations). A rollover only matters for certificates of the new generation, whose
issuer the kept store does not hold: the verifier then asks the store's ``reload``, which reads
the CA again (a rollover by another process counts as well) and replaces the kept store if the
roots or links changed. No generation is ever removed, so a kept store never trusts too much.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from ca.authority import CertificateAuthority
from pki.profile import CertKind
from pki.verify import TrustStore
from pki.verify.trust import EvidenceUnavailable
from revocation.errors import RevocationError
from web.revocation_wiring import RevocationSide

_stores: weakref.WeakKeyDictionary[CertificateAuthority, dict[CertKind, TrustStore]] = (
    weakref.WeakKeyDictionary())
_stores_lock = threading.Lock()


def trust_store(ca: CertificateAuthority, kind: CertKind = CertKind.SIGNING) -> TrustStore:
    """Every generation's root of ``kind``, and the link certificates between them."""
    with _stores_lock:
        kept = _stores.get(ca, {}).get(kind)
    return kept if kept is not None else _load(ca, kind)


def _load(ca: CertificateAuthority, kind: CertKind) -> TrustStore:
    """Read the CA's roots and links; keep a new trust store only if they changed."""
    roots = tuple(g.certificate for g in ca.generations(kind))
    if not roots:
        raise RevocationError(f"the {kind.value} CA has no key yet: run `jpki ca init`")
    links = tuple(ca.links(kind))
    with _stores_lock:
        kinds = _stores.setdefault(ca, {})
        kept = kinds.get(kind)
        if kept is None or kept.roots != roots or kept.links != links:
            kept = kinds[kind] = TrustStore(roots=roots, links=links,
                                            reload=_reloader(weakref.ref(ca), kind))
        return kept


def _reloader(ca: weakref.ref[CertificateAuthority], kind: CertKind) -> Callable[[], TrustStore]:
    # a weak reference: the store is kept in a dictionary whose weak key is this very CA
    def reload() -> TrustStore:
        authority = ca()
        if authority is None:
            raise RevocationError("the certificate authority is gone")
        return _load(authority, kind)

    return reload


class OwnEvidence:
    """``RevocationEvidence`` answered by our revocation service, in process."""

    def __init__(self, revocation: RevocationSide) -> None:
        self._revocation = revocation

    def ocsp_response(self, cert: x509.Certificate, issuer: x509.Certificate) -> bytes | None:
        request = (ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
                   .build())
        try:
            return self._revocation.ocsp.respond(request.public_bytes(Encoding.DER))
        except RevocationError as exc:
            raise EvidenceUnavailable(str(exc)) from exc

    def crls(self, cert: x509.Certificate) -> list[bytes]:
        return []  # every certificate of ours is covered by the OCSP responder
