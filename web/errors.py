"""The one place that turns errors into HTTP: problem documents (RFC 9457).

Every package raises its own small exception hierarchy; here each one gets a status code. JSON
APIs, the repository (CRLs, CA certificates) and OCSP's HTTP-level refusals answer
``application/problem+json`` with ``type``, ``title``, ``status`` and ``detail``. A domain error's
message is written for the caller and is passed on as ``detail``; anything unexpected is logged
here with its traceback and answers a bare 500: no stack trace, exception text or SQL ever
reaches a client.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from flask import Flask, Response
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from ca.errors import CaConflict, CaError, CaNotFound, IssuanceRefused, KeyStoreError, NotEligible
from jukibridge.errors import (
    AuthenticationFailed,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    RegisterError,
)
from pki.card import CardError
from pki.signing import MalformedDocument
from revocation.errors import (
    InvalidRequest,
    NoSigner,
    RevocationError,
    UnknownCertificate,
    UnknownIssuer,
)

PROBLEM = "application/problem+json"
TYPE_PREFIX = "urn:jpki:problem:"  # RFC 9457 §3.1.1: a URI naming the problem kind

log = logging.getLogger(__name__)

# Most specific first: the first class an error is an instance of decides its status.
STATUS: tuple[tuple[type[Exception], HTTPStatus], ...] = (
    (MalformedDocument, HTTPStatus.BAD_REQUEST),
    (CardError, HTTPStatus.BAD_REQUEST),
    (InvalidInput, HTTPStatus.BAD_REQUEST),
    (AuthenticationFailed, HTTPStatus.UNAUTHORIZED),
    (PermissionDenied, HTTPStatus.FORBIDDEN),
    (NotFound, HTTPStatus.NOT_FOUND),
    (Conflict, HTTPStatus.CONFLICT),
    (InvalidRequest, HTTPStatus.BAD_REQUEST),
    (UnknownCertificate, HTTPStatus.NOT_FOUND),
    (UnknownIssuer, HTTPStatus.NOT_FOUND),
    (NoSigner, HTTPStatus.SERVICE_UNAVAILABLE),
    (CaNotFound, HTTPStatus.NOT_FOUND),
    (CaConflict, HTTPStatus.CONFLICT),
    (NotEligible, HTTPStatus.FORBIDDEN),
    (IssuanceRefused, HTTPStatus.UNPROCESSABLE_ENTITY),
)
# Errors whose message may describe the server's insides: the client gets the title only.
OPAQUE: tuple[type[Exception], ...] = (KeyStoreError,)


def problem(status: int, detail: str | None = None, *, title: str | None = None,
            kind: str | None = None) -> Response:
    """An ``application/problem+json`` response."""
    phrase = HTTPStatus(status).phrase
    body: dict[str, object] = {
        "type": TYPE_PREFIX + kind if kind else "about:blank",
        "title": title or phrase,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM)


def _kind(exc: Exception) -> str:
    """The problem type: the error's own ``code`` when it has one, else its class name."""
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code:
        return code.replace("_", "-")
    name = type(exc).__name__
    return "".join("-" + c.lower() if c.isupper() else c for c in name).lstrip("-")


def status_of(exc: Exception) -> HTTPStatus | None:
    """The HTTP status of a domain error, or None for an error this module does not know."""
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return None


def domain_error(exc: Exception) -> Response:
    status = status_of(exc)
    if status is None:
        return unexpected(exc)
    if isinstance(exc, OPAQUE):
        log.error("%s: %s", type(exc).__name__, exc)
        return problem(status, kind=_kind(exc))
    detail = str(exc) or status.phrase
    return problem(status, detail, kind=_kind(exc))


def http_error(exc: HTTPException) -> Response:
    """Werkzeug's own errors (404 for an unknown URL, 405, 413 …) as problem documents."""
    status = exc.code or HTTPStatus.INTERNAL_SERVER_ERROR
    response = problem(status, exc.description)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # RFC 9110 §15.5.6
    return response


def unexpected(exc: Exception) -> Response:
    """A fault of ours: logged with its traceback here, a bare 500 for the client."""
    log.error("unhandled error", exc_info=exc)
    return problem(HTTPStatus.INTERNAL_SERVER_ERROR,
                   "The service could not answer this request; the fault was logged.")


def register(app: Flask) -> None:
    """Install the mapping on ``app``."""
    app.register_error_handler(HTTPException, http_error)
    for cls in (RegisterError, CaError, RevocationError, CardError, MalformedDocument):
        app.register_error_handler(cls, domain_error)
    app.register_error_handler(Exception, unexpected)
