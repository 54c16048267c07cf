"""Card login to the portal by challenge–response: through the CLI posting to a live loopback
server and through the upload; wrong PIN, reused and expired codes, a revoked certificate, a
signature over another code, another service's origin, CSRF, idle timeout and logout."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import select

from jukibridge.tables import AuditEntry
from pki.clock import FrozenClock
from tests.storage.conftest import Jpki
from tests.web.conftest import csrf_token
from tests.web.portal_helpers import (
    Holder,
    login_code,
    portal_login,
    signed_challenge,
    upload,
)
from web.portal_login import ALPHABET, CODE_LENGTH
from web.server import Running
from web.services import Services


def _status(client: FlaskClient, code: str) -> dict[str, str]:
    response = client.get(f"/portal/login/status?code={code}")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert isinstance(body, dict)
    return body


def _audit(services: Services, action: str) -> list[AuditEntry]:
    with services.sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_the_login_page_shows_a_short_code_and_polls(client: FlaskClient) -> None:
    page = client.get("/portal/login")
    text = page.get_data(as_text=True)
    code = login_code(page)
    assert len(code) == CODE_LENGTH and set(code) <= set(ALPHABET)
    assert "/portal/login/status?code=" + code in text and "setTimeout(poll, 1000)" in text
    assert 'name="signed_challenge"' in text and 'id="challenge-submit"' in text
    assert "<script src" not in text, "no external scripts"
    assert _status(client, code)["state"] == "pending"
    assert login_code(client.get("/portal/login")) != code, "a new code per page"
    other = client.application.test_client()
    assert _status(other, code)["state"] == "unknown", "only the browser that shows it"


def test_card_login_through_the_cli_and_a_live_server(
        client: FlaskClient, jpki: Jpki, holder: Holder, live: Running,
        services: Services) -> None:
    assert client.get("/portal/me").headers["Location"] == "/portal/login"
    code = login_code(client.get("/portal/login"))
    result = jpki("login", "--card", str(holder.card), "--code", code.lower(),
                  "--url", live.url, "--pin-file", str(holder.pin_file))
    assert "logged in" in result.output and "1234" not in result.output
    assert _status(client, code) == {"state": "done", "next": "/portal/me"}
    me = client.get("/portal/me")
    assert me.status_code == 200
    assert "山田　花子" in me.get_data(as_text=True)
    assert _status(client, code)["state"] == "unknown", "claimed once"
    (entry,) = _audit(services, "portal.login")
    assert entry.actor == "portal" and entry.target.startswith("card:")
    assert code not in entry.details and "1234" not in entry.details

    reused = jpki("login", "--card", str(holder.card), "--code", code, "--url", live.url,
                  "--pin-file", str(holder.pin_file), ok=False)
    assert reused.exit_code == 1 and "login refused (401)" in reused.output
    assert "used already" in reused.output


def test_a_wrong_pin_is_refused_by_the_card_and_the_code_stays_usable(
        client: FlaskClient, jpki: Jpki, holder: Holder, live: Running,
        card_instance: Path) -> None:
    wrong = card_instance / "wrong.pin"
    wrong.write_text("9999")
    code = login_code(client.get("/portal/login"))
    result = jpki("login", "--card", str(holder.card), "--code", code, "--url", live.url,
                  "--pin-file", str(wrong), ok=False)
    assert result.exit_code == 1 and "wrong PIN: 2 tries left" in result.output
    assert "9999" not in result.output
    assert _status(client, code)["state"] == "pending"
    assert client.get("/portal/me").status_code == 302
    jpki("login", "--card", str(holder.card), "--code", code, "--url", live.url,
         "--pin-file", str(holder.pin_file))
    assert _status(client, code)["state"] == "done"


def test_card_login_through_the_upload(client: FlaskClient, jpki: Jpki,
                                       holder: Holder) -> None:
    portal_login(client, jpki, holder)
    me = client.get("/portal/me").get_data(as_text=True)
    assert "ログインしました" in me and "山田　花子" in me
    assert client.get("/portal/login").headers["Location"] == "/portal/me"


def test_a_reused_code_is_refused(client: FlaskClient, jpki: Jpki, holder: Holder) -> None:
    page = client.get("/portal/login")
    signed = signed_challenge(jpki, holder, login_code(page))
    assert client.post("/portal/login/response", json=signed).status_code == 200
    again = client.post("/portal/login/response", json=signed)
    assert again.status_code == 401 and again.mimetype == "application/problem+json"
    assert again.get_json()["type"] == "urn:jpki:problem:code-used"
    refused = upload(client, client.get("/portal/login"), signed)
    assert refused.status_code == 401 and "使用済み" in refused.get_data(as_text=True)
    other = client.application.test_client()
    elsewhere = upload(other, other.get("/portal/login"), signed)
    assert elsewhere.status_code == 400
    assert "この画面に表示されたコードではありません" in elsewhere.get_data(as_text=True)


def test_an_expired_code_is_refused(client: FlaskClient, jpki: Jpki, holder: Holder,
                                    clock: FrozenClock) -> None:
    page = client.get("/portal/login")
    code = login_code(page)
    clock.advance(timedelta(minutes=5, seconds=1))
    assert _status(client, code)["state"] == "expired"
    response = upload(client, page, signed_challenge(jpki, holder, code))
    assert response.status_code == 401
    assert "有効期限が切れています" in response.get_data(as_text=True)
    assert client.get("/portal/me").status_code == 302


def test_a_revoked_authentication_certificate_is_refused(
        client: FlaskClient, jpki: Jpki, holder: Holder, services: Services) -> None:
    jpki("revoke", str(holder.auth.serial_number), "--operator", "clerk")
    page = client.get("/portal/login")
    code = login_code(page)
    response = client.post("/portal/login/response",
                           json=signed_challenge(jpki, holder, code))
    assert response.status_code == 401
    assert response.get_json()["type"] == "urn:jpki:problem:certificate-revoked"
    status = _status(client, code)
    assert status["state"] == "failed" and "失効" in status["message"]
    assert client.get("/portal/me").status_code == 302
    (entry,) = _audit(services, "portal.login.refused")
    assert '"reason":"certificate-revoked"' in entry.details


def test_a_session_ends_when_its_certificate_is_revoked(client: FlaskClient, jpki: Jpki,
                                                       holder: Holder) -> None:
    portal_login(client, jpki, holder)
    assert client.get("/portal/me").status_code == 200
    jpki("revoke", str(holder.auth.serial_number), "--operator", "clerk")
    response = client.get("/portal/me")
    assert response.status_code == 302 and response.headers["Location"] == "/portal/login"
    assert "有効でなくなったため" in client.get("/portal/login").get_data(as_text=True)


def test_a_signature_over_another_code_is_refused(client: FlaskClient, jpki: Jpki,
                                                  holder: Holder) -> None:
    first = client.get("/portal/login")
    second = client.get("/portal/login")
    signed = signed_challenge(jpki, holder, login_code(second))
    forged = {**signed, "code": login_code(first)}
    response = upload(client, first, forged)
    assert response.status_code == 401
    assert "署名を確認できませんでした" in response.get_data(as_text=True)
    assert client.get("/portal/me").status_code == 302
    assert _status(client, login_code(first))["state"] == "failed", "the code is spent"


def test_a_signature_for_another_service_is_refused(client: FlaskClient, jpki: Jpki,
                                                    holder: Holder) -> None:
    page = client.get("/portal/login")
    code = login_code(page)
    relayed = signed_challenge(jpki, holder, code, url="https://phishing.example")
    response = client.post("/portal/login/response", json=relayed)
    assert response.status_code == 401
    assert response.get_json()["type"] == "urn:jpki:problem:origin-mismatch"
    del relayed["origin"]  # without the claim, the signature itself fails
    response = client.post("/portal/login/response", json=relayed,
                           headers={"Host": "phishing.example"})
    assert response.get_json()["type"] == "urn:jpki:problem:bad-signature"


def test_malformed_responses_are_problems(client: FlaskClient) -> None:
    for body in (b"not json", b"[]", b'{"code": "AAAAAAAA"}',
                 b'{"code": "x", "certificate": "", "signature": ""}'):
        response = client.post("/portal/login/response", data=body,
                               content_type="application/json")
        assert response.status_code == 400 and response.mimetype == "application/problem+json"
        assert response.get_json()["type"] == "urn:jpki:problem:malformed"


def test_the_upload_needs_its_csrf_token(client: FlaskClient, jpki: Jpki,
                                         holder: Holder) -> None:
    page = client.get("/portal/login")
    signed = signed_challenge(jpki, holder, login_code(page))
    response = client.post("/portal/login", data={
        "signed_challenge": (io.BytesIO(json.dumps(signed).encode()), "signed.json")},
        content_type="multipart/form-data")
    assert response.status_code == 400 and "有効期限が切れたか" in response.get_data(as_text=True)
    assert client.get("/portal/me").status_code == 302


def test_idle_timeout_and_logout(client: FlaskClient, jpki: Jpki, holder: Holder,
                                 clock: FrozenClock, services: Services) -> None:
    portal_login(client, jpki, holder)
    clock.advance(timedelta(minutes=14))
    me = client.get("/portal/me")
    assert me.status_code == 200
    clock.advance(timedelta(minutes=16))
    response = client.get("/portal/me")
    assert response.status_code == 302 and response.headers["Location"] == "/portal/login"
    assert "一定時間操作がなかった" in client.get("/portal/login").get_data(as_text=True)

    portal_login(client, jpki, holder)
    me = client.get("/portal/me")
    out = client.post("/portal/logout", data={"csrf_token": csrf_token(me)})
    assert out.status_code == 302 and out.headers["Location"] == "/portal/"
    assert client.get("/portal/me").status_code == 302
    reasons = [entry.details for entry in _audit(services, "portal.logout")]
    assert len(reasons) == 2 and '"reason":"idle"' in reasons[0]
    assert '"reason":"logout"' in reasons[1]


def test_a_verified_code_must_be_claimed_soon(client: FlaskClient, jpki: Jpki, holder: Holder,
                                             clock: FrozenClock) -> None:
    code = login_code(client.get("/portal/login"))
    signed = signed_challenge(jpki, holder, code)
    assert client.post("/portal/login/response", json=signed).status_code == 200
    clock.advance(timedelta(minutes=3))
    assert _status(client, code)["state"] == "claimed"
    assert client.get("/portal/me").status_code == 302
