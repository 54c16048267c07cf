"""Card login for relying parties' clients, version 1 of the JSON API (DESIGN.md §7).

- ``POST /api/v1/auth/challenge`` → 201 ``{"challenge", "origin", "message", "expires_at"}``:
  a single-use code that expires (``web.portal_login``'s store and rules);
- the client has the card sign ``message`` (SHA-256, PKCS#1 v1.5) with the authentication key
  after the 4-digit PIN (``jpki login --card CARD --url URL`` does all of this);
- ``POST /api/v1/auth/response`` with ``{"code", "certificate", "signature"}`` → 201
  ``{"session", "expires_in", "certificate": {"issuer", "serial"}}``; a replayed or expired
  challenge, a bad signature, a certificate not ours, revoked, held or expired: 401 problem;
- ``GET /api/v1/auth/session`` (``Authorization: Bearer <session>``) → the session, 401 when it
  ended; ``DELETE`` ends it (204; 401 when it was not open).

Only challenges issued here are answered here, and each is spent by its first response.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue

from web.api_sessions import SESSIONS
from web.app import services
from web.errors import problem
from web.portal_login import (
    MAX_DOCUMENT,
    STORE,
    LoggedIn,
    LoginRefused,
    SignedChallenge,
    State,
    accepted_origins,
    challenge_message,
    origin_of,
    still_good,
    verify,
)

blueprint = Blueprint("api_auth", __name__, url_prefix="/api/v1/auth")

API_CLIENT = "api"  # the store's "browser" of every challenge issued here (never a browser's)


@blueprint.post("/challenge")
def challenge() -> ResponseReturnValue:
    """A fresh single-use challenge to sign on the card."""
    built = services()
    now = built.clock.now()
    try:
        issued = STORE.issue(API_CLIENT, now)
        origin = origin_of(built.settings.base_url)
    except LoginRefused as refused:
        return problem(refused.status, refused.detail, kind=refused.kind)
    message = challenge_message(issued.code, origin)
    return _json({"challenge": issued.code, "origin": origin,
                  "message": message.decode("ascii"),
                  "expires_at": issued.expires_at.isoformat()}, 201)


@blueprint.post("/response")
def response() -> ResponseReturnValue:
    """Check a signed challenge and open a session."""
    if (request.content_length or 0) > MAX_DOCUMENT:
        return problem(413, "the signed challenge is too large", kind="malformed")
    built = services()
    try:
        signed = SignedChallenge.parse(request.get_data(cache=False)[:MAX_DOCUMENT + 1])
        if STORE.state(signed.code, API_CLIENT, built.clock.now()) is State.UNKNOWN:
            raise LoginRefused("code-unknown", "no such challenge was issued by this API")
        login = verify(built, signed, origins=accepted_origins(built, request.host_url))
        STORE.claim(signed.code, API_CLIENT, built.clock.now())  # spent
    except LoginRefused as refused:
        return problem(refused.status, refused.detail, kind=refused.kind)
    token = SESSIONS.open(login, built.clock.now(), _idle())
    if token is None:
        return problem(503, "too many open sessions; try later", kind="busy")
    return _json({"session": token, "expires_in": _idle_seconds(),
                  "certificate": _certificate(login)}, 201)


@blueprint.get("/session")
def session() -> ResponseReturnValue:
    """The session of the bearer token, while its certificate is still good."""
    token = _bearer()
    built = services()
    found = SESSIONS.use(token, built.clock.now(), _idle()) if token else None
    if found is None:
        return _unauthorised("no such session, or it ended")
    if not still_good(built, found.login.issuer_key_id, found.login.serial):
        SESSIONS.close(token)
        return _unauthorised("the certificate of this session is no longer good")
    return _json({"certificate": _certificate(found.login),
                  "opened_at": found.opened_at.isoformat(), "expires_in": _idle_seconds()})


@blueprint.delete("/session")
def logout() -> ResponseReturnValue:
    """End the session: 204, or 401 when there was no such open session."""
    token = _bearer()
    if not token or not SESSIONS.close(token):
        return _unauthorised("no such session, or it ended")
    return Response(status=204)


def _certificate(login: LoggedIn) -> dict[str, str]:
    issuer, _, serial = login.certificate.partition(":")
    return {"issuer": issuer, "serial": serial}


def _bearer() -> str:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _idle() -> timedelta:
    return timedelta(minutes=int(current_app.config["SESSION_IDLE_MINUTES"]))


def _idle_seconds() -> int:
    return int(_idle().total_seconds())


def _unauthorised(detail: str) -> Response:
    answer = problem(401, detail, kind="no-session")
    answer.headers["WWW-Authenticate"] = 'Bearer realm="jpki"'
    return answer


def _json(body: dict[str, Any], status: int = 200) -> Response:
    answer = Response(json.dumps(body, ensure_ascii=False), status=status,
                      mimetype="application/json")
    answer.headers["Cache-Control"] = "no-store"
    return answer
