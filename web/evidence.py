"""What the verifier trusts and asks: the JPKI roots of every generation with their link
certificates, and revocation evidence from our own OCSP responder (never fetched elsewhere)."""

from __future__ import annotations

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


def trust_store(ca: CertificateAuthority, kind: CertKind = CertKind.SIGNING) -> TrustStore:
    """Every generation's root of ``kind``, and the link certificates between them."""
    roots = tuple(g.certificate for g in ca.generations(kind))
    if not roots:
        raise RevocationError(f"the {kind.value} CA has no key yet: run `jpki ca init`")
    return TrustStore(roots=roots, links=tuple(ca.links(kind)))


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

