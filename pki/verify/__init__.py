"""The verifier: XML submissions, detached CMS and PDFs, judged in ETSI EN 319 102-1 terms.

Every verifier takes the document, a :class:`TrustStore` (JPKI roots and link certificates), a
:class:`RevocationEvidence` source (our own CRLs and OCSP responses; nothing is fetched) and the
validation time ``at``, and returns a :class:`Report` (JSON form: :meth:`Report.to_json`).
Input that cannot be judged raises :class:`~pki.signing.MalformedDocument`.

A :class:`TrustStore` remembers the path validations that passed, per certificate and exact
revocation evidence (:mod:`pki.verify.path_cache`): keep one for as long as its roots hold.

The verifiers are synchronous: they run pyhanko-certvalidator's coroutines with ``asyncio.run``,
so call them from plain code or a worker thread, not from inside a running event loop.

- :func:`verify_xml` — e-Tax-style submissions (:mod:`pki.verify.xml`);
- :func:`verify_cms` — detached CMS signatures (:mod:`pki.verify.cms`);
- :func:`verify_pdf` — PAdES / PDF signatures (:mod:`pki.verify.pdf`).
"""

from __future__ import annotations

from pki.signing import MalformedDocument
from pki.verify.cms import verify_cms
from pki.verify.pdf import verify_pdf
from pki.verify.report import (
    Evidence,
    Indication,
    Report,
    SignatureReport,
    SignerCertificate,
    SubIndication,
)
from pki.verify.trust import EvidenceUnavailable, NoEvidence, RevocationEvidence, TrustStore
from pki.verify.xml import verify_xml

__all__ = [
    "Evidence",
    "EvidenceUnavailable",
    "Indication",
    "MalformedDocument",
    "NoEvidence",
    "Report",
    "RevocationEvidence",
    "SignatureReport",
    "SignerCertificate",
    "SubIndication",
    "TrustStore",
    "verify_cms",
    "verify_pdf",
    "verify_xml",
]
