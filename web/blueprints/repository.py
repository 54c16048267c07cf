"""The repository: CRLs, CA certificates and the OCSP responder, over plain HTTP.

These are the URLs the certificates name (CRL distribution point, authorityInfoAccess): they
are fetched by relying parties' software, so they answer DER with the registered media types
(RFC 5280 §4.2.1.13 / §4.2.2.1, RFC 2585 §4) and, for OCSP, OCSP responses even for a bad
request (RFC 6960 §2.3 ``malformedRequest``) rather than an HTTP error.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime
from urllib.parse import unquote

from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from flask import Blueprint, Response, request
from sqlalchemy import select

from ca.tables import IssuedCertificate
from pki.profile import CertKind
from revocation.crl import FULL, PublishedCrl
from revocation.errors import UnknownIssuer
from revocation.ocsp import MAX_REQUEST, error_response
from web.app import services
from web.errors import problem
from web.metrics import metrics, ocsp_status

blueprint = Blueprint("repository", __name__)

CRL_TYPE = "application/pkix-crl"  # RFC 2585 §4.2
CERT_TYPE = "application/pkix-cert"  # RFC 2585 §4.1
OCSP_REQUEST = "application/ocsp-request"  # RFC 6960 appendix C.1
OCSP_RESPONSE = "application/ocsp-response"  # RFC 6960 appendix C.2


def _http_date(at: datetime) -> str:
    return at.strftime("%a, %d %b %Y %H:%M:%S GMT")


@blueprint.get("/crl/<ca>/<partition>.crl")
def crl(ca: str, partition: str) -> Response:
    """The current CRL of a partition, issued on the spot when none is current yet.

    Only partitions that exist are served (the full CRL of a generation, or a municipality the
    generation has issued to): a request cannot make the CA sign CRLs for arbitrary names.
    """
    side = services().revocation
    issuer = side.crls.issuer(ca)
    if issuer.name != ca:  # a key id is accepted by the publisher, not in URLs
        raise UnknownIssuer(f"no CA generation {ca}")
    if partition != FULL and not _has_partition(issuer.key_id, partition):
        return problem(404, f"{ca} has no CRL partition {partition!r}",
                       kind="unknown-partition")
    return _crl_response(side.crls.ensure(ca, partition))


def _has_partition(issuer_key_id: str, partition: str) -> bool:
    with services().sessions() as session:
        return session.scalar(select(IssuedCertificate.issued_id).where(
            IssuedCertificate.issuer_key_id == issuer_key_id,
            IssuedCertificate.partition == partition).limit(1)) is not None


def _crl_response(published: PublishedCrl) -> Response:
    response = Response(published.der, mimetype=CRL_TYPE)
    response.headers["Last-Modified"] = _http_date(published.this_update)
    response.headers["Expires"] = _http_date(published.next_update)
    return response


@blueprint.get("/ca/<name>.cer")
def ca_certificate(name: str) -> Response:
    """A CA generation's self-signed root (``sign-1``, ``auth-2`` …), DER."""
    ca = services().ca
    for kind in CertKind:
        for generation in ca.generations(kind):
            if generation.name == name:
                return Response(generation.certificate.public_bytes(Encoding.DER),
                                mimetype=CERT_TYPE)
    return problem(404, f"no CA generation {name!r}", kind="unknown-ca")


@blueprint.post("/ocsp")
@blueprint.post("/ocsp/")
def ocsp_post() -> Response:
    """RFC 6960 appendix A.1.1: the DER request as the body."""
    if request.mimetype != OCSP_REQUEST:
        return problem(415, f"an OCSP request is sent as {OCSP_REQUEST}")
    if request.content_length is not None and request.content_length > MAX_REQUEST:
        return _ocsp(error_response(ocsp.OCSPResponseStatus.MALFORMED_REQUEST))
    body = request.stream.read(MAX_REQUEST + 1)  # bounded even without a Content-Length
    return _ocsp(services().revocation.ocsp.respond(body))


@blueprint.get("/ocsp/<path:encoded>", merge_slashes=False)
def ocsp_get(encoded: str) -> Response:
    """RFC 6960 appendix A.1.1: GET ``{url}/{url-encoding of base-64 of the DER request}``.

    The server has already URL-decoded the path once; it is decoded again because some clients
    encode twice (``%`` is not a base-64 character, so this never harms a valid request).
    """
    if len(encoded) > 2 * MAX_REQUEST:
        return _ocsp(error_response(ocsp.OCSPResponseStatus.MALFORMED_REQUEST))
    try:
        der = base64.b64decode(unquote(encoded), validate=True)
    except (binascii.Error, ValueError):
        return _ocsp(error_response(ocsp.OCSPResponseStatus.MALFORMED_REQUEST))
    return _ocsp(services().revocation.ocsp.respond(der))


def _ocsp(der: bytes) -> Response:
    metrics().count_ocsp(ocsp_status(der))  # jpki_ocsp_responses_total{status=...}
    return Response(der, mimetype=OCSP_RESPONSE)
