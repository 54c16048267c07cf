"""Card login through the JSON API: challenge, signed response, session; replay, expiry, a
revoked card and a portal code refused; ``jpki login --url`` against a live server."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from pki.clock import FrozenClock
from tests.storage.conftest import Jpki
from tests.web.portal_helpers import Holder, login_code, signed_challenge
from web.server import Running


def _challenge(client: FlaskClient) -> dict[str, str]:
    response = client.post("/api/v1/auth/challenge")
    assert response.status_code == 201 and response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert set(body) == {"challenge", "origin", "message", "expires_at"}
    assert f"code={body['challenge']}" in body["message"]
    return body


def _respond(client: FlaskClient, jpki: Jpki, holder: Holder, code: str) -> tuple[int, dict]:
    response = client.post("/api/v1/auth/response", json=signed_challenge(jpki, holder, code))
    return response.status_code, response.get_json()


def test_challenge_response_opens_a_session_that_names_only_the_certificate(
        client: FlaskClient, jpki: Jpki, holder: Holder) -> None:
    code = _challenge(client)["challenge"]
    status, opened = _respond(client, jpki, holder, code)
    assert status == 201, opened
    assert opened["certificate"] == {"issuer": "auth-1",
                                     "serial": str(holder.auth.serial_number)}
    assert holder.resident_code not in str(opened)  # no personal data for a relying party
    bearer = {"Authorization": f"Bearer {opened['session']}"}
    session = client.get("/api/v1/auth/session", headers=bearer)
    assert session.status_code == 200
    assert session.get_json()["certificate"] == opened["certificate"]
    assert client.delete("/api/v1/auth/session", headers=bearer).status_code == 204
    ended = client.get("/api/v1/auth/session", headers=bearer)
    assert ended.status_code == 401 and ended.mimetype == "application/problem+json"
    assert ended.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_replayed_response_is_refused(client: FlaskClient, jpki: Jpki,
                                        holder: Holder) -> None:
    code = _challenge(client)["challenge"]
    signed = signed_challenge(jpki, holder, code)
    assert client.post("/api/v1/auth/response", json=signed).status_code == 201
    replay = client.post("/api/v1/auth/response", json=signed)
    assert replay.status_code == 401
    assert replay.get_json()["type"] == "urn:jpki:problem:code-used"


def test_an_expired_challenge_is_refused(client: FlaskClient, jpki: Jpki, holder: Holder,
                                         clock: FrozenClock) -> None:
    code = _challenge(client)["challenge"]
    signed = signed_challenge(jpki, holder, code)
    clock.advance(timedelta(minutes=6))
    response = client.post("/api/v1/auth/response", json=signed)
    assert response.status_code == 401
    assert response.get_json()["type"] == "urn:jpki:problem:code-expired"


def test_a_revoked_or_held_card_cannot_log_in_and_its_session_ends(
        client: FlaskClient, jpki: Jpki, holder: Holder) -> None:
    status, opened = _respond(client, jpki, holder, _challenge(client)["challenge"])
    assert status == 201
    jpki("card", "report-lost", holder.card_id, "--operator", "clerk")  # both on hold
    bearer = {"Authorization": f"Bearer {opened['session']}"}
    assert client.get("/api/v1/auth/session", headers=bearer).status_code == 401
    status, refused = _respond(client, jpki, holder, _challenge(client)["challenge"])
    assert status == 401 and refused["type"] == "urn:jpki:problem:certificate-revoked"


def test_a_portal_code_is_not_answered_by_the_api(client: FlaskClient, jpki: Jpki,
                                                  holder: Holder) -> None:
    code = login_code(client.get("/portal/login"))
    status, refused = _respond(client, jpki, holder, code)
    assert status == 401 and refused["type"] == "urn:jpki:problem:code-unknown"


def test_unknown_sessions_and_bad_bodies_are_problems(client: FlaskClient) -> None:
    assert client.get("/api/v1/auth/session").status_code == 401
    assert client.get("/api/v1/auth/session",
                      headers={"Authorization": "Bearer nope"}).status_code == 401
    bad = client.post("/api/v1/auth/response", data=b"not json",
                      content_type="application/json")
    assert bad.status_code == 400 and bad.mimetype == "application/problem+json"


def test_jpki_login_opens_an_api_session_on_a_live_server(jpki: Jpki, holder: Holder,
                                                          live: Running) -> None:
    out = jpki("login", "--card", str(holder.card), "--url", live.url, "--pin-file",
               str(holder.pin_file)).output
    assert f"auth-1:{holder.auth.serial_number}" in out
    assert "session: " in out
    wrong = holder.folder / "wrong.pin"
    wrong.write_text("9999")
    refused = jpki("login", "--card", str(holder.card), "--url", live.url, "--pin-file",
                   str(wrong), ok=False)
    assert refused.exit_code != 0 and "session:" not in refused.output
