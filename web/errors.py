"""The one place that turns errors into HTTP: problem documents (RFC 9457).

Every package raises its own small exception hierarchy; here each one gets a status code. JSON
APIs, the repository (CRLs, CA certificates) and OCSP's HTTP-level refusals answer
``application/problem+json`` with ``type``, ``title``, ``status`` and ``detail``. A domain error's
message is written for the caller and is passed on as ``detail``; anything unexpected is logged
here with its traceback and answers a bare 500: no stack trace, exception text or SQL ever
reaches a client.

Browser screens (the counter and the portal) get the same statuses as a friendly Japanese page
(``error.html``) instead of a problem document.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus

from flask import Flask, Response, render_template, request
from flask_wtf.csrf import CSRFError
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
    NotApplicable,
    NotPermitted,
    RevocationError,
    UnknownCertificate,
    UnknownIssuer,
    VerifierUnauthorized,
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
    (VerifierUnauthorized, HTTPStatus.UNAUTHORIZED),
    (NotPermitted, HTTPStatus.FORBIDDEN),
    (NotApplicable, HTTPStatus.CONFLICT),
    (CaNotFound, HTTPStatus.NOT_FOUND),
    (CaConflict, HTTPStatus.CONFLICT),
    (NotEligible, HTTPStatus.FORBIDDEN),
    (IssuanceRefused, HTTPStatus.UNPROCESSABLE_ENTITY),
)
# Errors whose message may describe the server's insides: the client gets the title only.
OPAQUE: tuple[type[Exception], ...] = (KeyStoreError,)

PAGE_AREAS = ("/counter", "/portal")  # path prefixes answered with HTML pages
PAGE_TITLES: dict[int, str] = {
    400: "入力内容を確認してください",
    401: "認証できませんでした",
    403: "この操作は許可されていません",
    404: "お探しのページ・情報が見つかりません",
    405: "この方法では利用できません",
    409: "ほかの処理と競合しました",
    413: "送信されたファイルが大きすぎます",
    422: "この内容では処理できません",
    500: "システムエラーが発生しました",
    503: "ただいま利用できません",
}
PAGE_MESSAGES: dict[int, str] = {
    400: "入力された内容に誤りがあります。内容を確認して、もう一度お試しください。",
    401: "本人確認ができませんでした。もう一度お試しください。",
    403: "この画面または操作を利用する権限がありません。",
    404: "指定されたページまたは情報は存在しません。",
    413: "ファイルの大きさの上限を超えています。",
    500: "処理中に問題が発生しました。記録されていますので、時間をおいて再度お試しください。",
    503: "一時的に処理できません。時間をおいて再度お試しください。",
}
CSRF_MESSAGE = ("画面の有効期限が切れたか、不正な送信です。"
                "画面を開き直して、もう一度操作してください。")


def wants_page() -> bool:
    """True for a request of a browser screen (counter, portal), answered with HTML."""
    path = request.path
    return any(path == area or path.startswith(area + "/") for area in PAGE_AREAS)


def page(status: int, detail: str | None = None, *, message: str | None = None) -> Response:
    """A Japanese error page with ``status``; ``detail`` is shown only when meant for users."""
    title = PAGE_TITLES.get(status, HTTPStatus(status).phrase)
    text = message or PAGE_MESSAGES.get(status, "この操作は完了しませんでした。")
    body = render_template("error.html", status=status, title=title, message=text,
                           detail=detail)
    return Response(body, status=status, mimetype="text/html")


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
        return page(status) if wants_page() else problem(status, kind=_kind(exc))
    detail = str(exc) or status.phrase
    return page(status, detail) if wants_page() else problem(status, detail, kind=_kind(exc))


def http_error(exc: HTTPException) -> Response:
    """Werkzeug's own errors (404 for an unknown URL, 405, 413 …) as problem documents."""
    status = exc.code or HTTPStatus.INTERNAL_SERVER_ERROR
    if wants_page():
        response = page(status, message=CSRF_MESSAGE if isinstance(exc, CSRFError) else None)
    else:
        response = problem(status, exc.description)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)  # RFC 9110 §15.5.6
    return response


def unexpected(exc: Exception) -> Response:
    """A fault of ours: logged with its traceback here, a bare 500 for the client."""
    log.error("unhandled error", exc_info=exc)
    if wants_page():
        return page(HTTPStatus.INTERNAL_SERVER_ERROR)
    return problem(HTTPStatus.INTERNAL_SERVER_ERROR,
                   "The service could not answer this request; the fault was logged.")


def register(app: Flask) -> None:
    """Install the mapping on ``app``."""
    app.register_error_handler(HTTPException, http_error)
    for cls in (RegisterError, CaError, RevocationError, CardError, MalformedDocument):
        app.register_error_handler(cls, domain_error)
    app.register_error_handler(Exception, unexpected)
