"""The repository: CRLs, CA certificates and the OCSP responder, over plain HTTP.

These are the URLs the certificates name (CRL distribution point, authorityInfoAccess): they
are fetched by relying parties' software, so they answer DER with the registered media types
(RFC 5280 §4.2.1.13 / §4.2.2.1, RFC 2585 §4) and, for OCSP, OCSP responses even for a bad
request (RFC 6960 §2.3 ``malformedRequest``) rather than an HTTP error.

OCSP is the one hot path: relying parties ask it for every certificate they check. A plain
``POST /ocsp`` (the OCSP media type, a Content-Length within bounds) is answered by
``OcspFastPath`` in front of Flask: the same responder call, the same response and the same
metrics, without the request context, session and routing that cost most of an answer.
Anything else (other media types, a missing length, an error) goes through Flask as before.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import unquote

from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from flask import Blueprint, Flask, Response, request
from flask.blueprints import BlueprintSetupState
from sqlalchemy import select

from ca.tables import IssuedCertificate
from pki.profile import CertKind
from revocation.crl import FULL, PublishedCrl
from revocation.errors import UnknownIssuer
from revocation.ocsp import MAX_REQUEST, error_response
from web.app import EXTENSION, services
from web.errors import problem
from web.metrics import EXTENSION as METRICS
from web.metrics import Metrics, metrics, ocsp_status
from web.services import Services

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

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


# -- the OCSP hot path ----------------------------------------------------------------------------

OCSP_PATHS = ("/ocsp", "/ocsp/")  # the routes of ``ocsp_post``
OCSP_ENDPOINT = "repository.ocsp_post"  # its endpoint name, as the request counter labels it


class OcspFastPath:
    """WSGI middleware: a well-formed ``POST /ocsp`` goes straight to the responder.

    It answers exactly what ``ocsp_post`` would (the responder's DER as
    ``application/ocsp-response``) and counts the request and the OCSP status as the app's
    after-request hook and ``_ocsp`` do. Every other request, and any failure, is handed to
    the Flask application unchanged (the body is put back), so errors are still turned into
    problem documents by ``web.errors``.
    """

    def __init__(self, app: Flask, wsgi_app: WSGIApplication) -> None:
        self._app = app
        self._next = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse
                 ) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH") or ""
        if (environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") not in OCSP_PATHS
                or environ.get("CONTENT_TYPE") != OCSP_REQUEST or not length.isdigit()
                or not 0 < int(length) <= MAX_REQUEST):
            return self._next(environ, start_response)
        body = environ["wsgi.input"].read(int(length))
        try:
            built = self._app.extensions[EXTENSION]
            assert isinstance(built, Services)
            der = built.revocation.ocsp.respond(body)
        except Exception:  # Flask asks again, and web.errors answers a failure
            environ["wsgi.input"] = io.BytesIO(body)
            return self._next(environ, start_response)
        counters = self._app.extensions.get(METRICS)
        if not isinstance(counters, Metrics):
            counters = self._app.extensions.setdefault(METRICS, Metrics())
        counters.count_ocsp(ocsp_status(der))
        counters.count_request("POST", OCSP_ENDPOINT, 200)
        start_response("200 OK", [("Content-Type", OCSP_RESPONSE),
                                  ("Content-Length", str(len(der)))])
        return [der]


@blueprint.record_once
def _install_fast_path(state: BlueprintSetupState) -> None:
    app = state.app
    assert isinstance(app, Flask)
    app.wsgi_app = OcspFastPath(app, app.wsgi_app)  # type: ignore[method-assign]
