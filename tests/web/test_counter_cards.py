"""Counter card screens: enrolment step by step, card loss, PIN reset, revocation on request."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509 import ReasonFlags
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from ca.tables import IssuedCertificate
from jukibridge import cards
from jukibridge.change_requests import Death
from jukibridge.register import Register
from jukibridge.tables import AuditEntry
from pki.card import Card, CardError
from revocation.service import CertStatus
from tests.conftest import PASSWORD
from tests.storage.helpers import arrive
from tests.web.conftest import csrf_token, login, post_form
from web.secrets import card_seal_key
from web.services import Services

AUTH_PIN = "5790"  # distinctive, so that an echo would be found
SIGNING_PASSWORD = "QZX7W3KP"
OTHER_CODE = "24727059608"  # well formed, never issued here


def _start(client: FlaskClient, code: str, document: str = "運転免許証") -> str:
    """Step 1; returns the URL of step 2."""
    response = post_form(client, f"/counter/residents/{code}/enrol",
                         {"identity_document": document, "identity_checked": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert re.fullmatch(r"/counter/enrolments/[A-Za-z0-9_-]{22}/pins", location)
    return location


def _pins(client: FlaskClient, url: str, auth: str = AUTH_PIN, sign: str = SIGNING_PASSWORD,
          auth_confirm: str | None = None, sign_confirm: str | None = None) -> TestResponse:
    return post_form(client, url, {
        "auth_pin": auth, "auth_pin_confirm": auth if auth_confirm is None else auth_confirm,
        "signing_password": sign,
        "signing_password_confirm": sign if sign_confirm is None else sign_confirm})


def _field(page: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page)
    assert found, f"no #{element_id}"
    return found.group(1).strip()


def _enrol(client: FlaskClient, code: str) -> tuple[str, str]:
    """The whole enrolment; returns the card id and the result page."""
    done = _pins(client, _start(client, code))
    assert done.status_code == 302 and done.headers["Location"].endswith("/done")
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    return _field(page, "card-id"), page


def _logout(client: FlaskClient, page: str) -> None:
    response = client.post("/counter/logout", data={"csrf_token": csrf_token(client.get(page))})
    assert response.status_code == 302


def _card_file(services: Services, card_id: str) -> Path:
    return services.settings.home / "cards" / f"{card_id}.jcard"


def _open(services: Services, card_id: str) -> Card:
    return Card.open(_card_file(services, card_id), card_seal_key(services.settings))


def _issued(sessions: sessionmaker[Session], card_id: str) -> dict[str, IssuedCertificate]:
    with sessions() as session:
        rows = session.scalars(select(IssuedCertificate)
                               .where(IssuedCertificate.card_id == card_id)).all()
    return {row.kind: row for row in rows}


def _status(services: Services, row: IssuedCertificate) -> tuple[CertStatus, object]:
    found = services.revocation.service.status(row.issuer_key_id, int(row.serial))
    return found.state, found.revocation.reason if found.revocation else None


def _actions(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.entry_id)))


def test_enrolment_through_the_screens_issues_the_card(
        client: FlaskClient, services: Services, register: Register,
        sessions: sessionmaker[Session]) -> None:
    code = arrive(register)
    login(client, "clerk")
    first = client.get(f"/counter/residents/{code}/enrol").get_data(as_text=True)
    assert "山田　花子" in first and 'name="identity_document"' in first
    assert 'id="enrol-next"' in first and 'id="no-signing"' not in first
    pins_url = _start(client, code, "旅券")
    pins = client.get(pins_url)
    text = pins.get_data(as_text=True)
    assert pins.status_code == 200 and "ご本人様" in text and 'id="pins-submit"' in text
    assert 'id="operator-name"' not in text and "山田" not in text  # a page for the resident
    assert text.count('type="password"') == 4 and pins.headers["Cache-Control"] == "no-store"
    card_id, page = _enrol_from(client, pins_url)
    issued = _issued(sessions, card_id)
    assert _field(page, "signing-serial") == f"{int(issued['sign'].serial):x}"
    assert _field(page, "auth-serial") == f"{int(issued['auth'].serial):x}"
    assert f'href="/counter/residents/{code}"' in page
    download = client.get(re.search(r'href="([^"]+)" id="card-download"', page).group(1))  # type: ignore[union-attr]
    assert download.status_code == 200 and download.mimetype == "application/octet-stream"
    assert download.data == _card_file(services, card_id).read_bytes()
    with _open(services, card_id) as card:
        card.verify_pin("auth", AUTH_PIN)
        on_card = card.read_certificate("sign", SIGNING_PASSWORD)
        assert card.read_certificate("auth") == x509.load_der_x509_certificate(
            issued["auth"].certificate)
    assert on_card == x509.load_der_x509_certificate(issued["sign"].certificate)
    with sessions() as session:
        (held,) = cards.cards_of(session, code)
    assert held.card_id == card_id and held.identity_document == "旅券"
    assert "card.enrol" in _actions(sessions)
    # the enrolment happens once: step 2 again leads to the result
    assert client.get(pins_url).headers["Location"].endswith("/done")
    card_page = client.get(f"/counter/cards/{card_id}").get_data(as_text=True)
    assert 'id="card"' in card_page and "有効" in card_page and "3回" in card_page


def _enrol_from(client: FlaskClient, pins_url: str) -> tuple[str, str]:
    done = _pins(client, pins_url)
    assert done.status_code == 302, done.get_data(as_text=True)
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    return _field(page, "card-id"), page


BAD_PINS = [  # auth, confirmation, signing password, confirmation, the message expected
    ("1234", "1243", SIGNING_PASSWORD, SIGNING_PASSWORD, "暗証番号が一致しません"),
    ("123", "123", SIGNING_PASSWORD, SIGNING_PASSWORD, "半角数字4桁"),
    ("12a4", "12a4", SIGNING_PASSWORD, SIGNING_PASSWORD, "半角数字4桁"),
    ("1234", "1234", "abc123", "abc123", "英大文字"),
    ("1234", "1234", "ABCDEFG", "ABCDEFG", "英大文字"),
    ("1234", "1234", "ABC1234567890DEFG", "ABC1234567890DEFG", "6～16文字"),
    ("1234", "1234", SIGNING_PASSWORD, "QZX7W3KQ", "パスワードが一致しません"),
    ("", "", SIGNING_PASSWORD, SIGNING_PASSWORD, "暗証番号を入力してください"),
]


def test_bad_or_mismatched_pins_issue_nothing(
        client: FlaskClient, services: Services, register: Register,
        sessions: sessionmaker[Session]) -> None:
    code = arrive(register)
    login(client, "clerk")
    pins_url = _start(client, code)
    for auth, auth_confirm, sign, sign_confirm, message in BAD_PINS:
        response = _pins(client, pins_url, auth, sign, auth_confirm, sign_confirm)
        body = response.get_data(as_text=True)
        assert response.status_code == 400 and message in body, (auth, sign)
        assert "入力内容に誤りがあります" in body
        for secret in filter(None, (auth, auth_confirm, sign, sign_confirm)):
            assert f'value="{secret}"' not in body
    with sessions() as session:
        assert cards.cards_of(session, code) == []
        assert session.scalar(select(func.count()).select_from(IssuedCertificate)) == 0
    assert not list((services.settings.home / "cards").glob("*.jcard*"))


def test_unknown_or_removed_residents_get_no_card(
        client: FlaskClient, register: Register, sessions: sessionmaker[Session]) -> None:
    login(client, "clerk")
    for code in (OTHER_CODE, "12345"):
        response = client.get(f"/counter/residents/{code}/enrol")
        assert response.status_code == 404 and "見つかりません" in response.get_data(as_text=True)
    code = arrive(register)
    page = client.get(f"/counter/residents/{code}/enrol")  # the form, before the removal
    register.perform("clerk", Death(resident_code=code))
    refused = client.post(f"/counter/residents/{code}/enrol", data={
        "identity_document": "運転免許証", "identity_checked": "y",
        "csrf_token": csrf_token(page)})
    assert refused.status_code == 409 and "除票" in refused.get_data(as_text=True)
    assert client.get("/counter/enrolments/AAAAAAAAAAAAAAAAAAAAAA/pins").status_code == 404
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(IssuedCertificate)) == 0


def test_a_record_removed_between_the_steps_is_refused_at_issuance(
        client: FlaskClient, register: Register, sessions: sessionmaker[Session]) -> None:
    code = arrive(register)
    login(client, "clerk")
    pins_url = _start(client, code)
    register.perform("clerk", Death(resident_code=code))
    response = _pins(client, pins_url)
    assert response.status_code == 302 and response.headers["Location"].endswith("/enrol")
    follow = client.get(response.headers["Location"])
    assert follow.status_code == 409 and "発行できません" in follow.get_data(as_text=True)
    with sessions() as session:
        assert cards.cards_of(session, code) == []


def test_a_resident_under_15_gets_only_the_authentication_certificate(
        client: FlaskClient, register: Register, sessions: sessionmaker[Session]) -> None:
    code = arrive(register, "山田　太郎", "ヤマダ　タロウ", birth="2016-06-01")
    login(client, "chief")
    first = client.get(f"/counter/residents/{code}/enrol").get_data(as_text=True)
    assert 'id="no-signing"' in first
    card_id, page = _enrol(client, code)
    assert "発行なし" in _field(page, "signing-serial")
    assert set(_issued(sessions, card_id)) == {"auth"}


def test_card_loss_puts_both_certificates_on_hold(
        client: FlaskClient, services: Services, register: Register,
        sessions: sessionmaker[Session]) -> None:
    login(client, "clerk")
    card_id, _ = _enrol(client, arrive(register))
    url = f"/counter/cards/{card_id}"
    response = post_form(client, f"{url}/lost", {}, form_page=url)
    assert response.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "紛失届を受け付けました" in page and "紛失届済み" in page and "一時保留" in page
    assert 'id="report-lost"' not in page and 'id="pin-reset-submit"' not in page
    for row in _issued(sessions, card_id).values():
        assert _status(services, row) == (CertStatus.REVOKED, ReasonFlags.certificate_hold)
    assert "card.lost" in _actions(sessions)
    again = post_form(client, f"{url}/lost", {}, form_page=url)
    assert again.status_code == 409 and "すでに紛失届済み" in again.get_data(as_text=True)


def test_a_locked_pin_is_reset_after_the_identity_check(
        client: FlaskClient, services: Services, register: Register,
        sessions: sessionmaker[Session]) -> None:
    login(client, "clerk")
    card_id, _ = _enrol(client, arrive(register))
    with _open(services, card_id) as card:
        for _ in range(3):
            with pytest.raises(CardError):
                card.verify_pin("auth", "0000")
        assert card.tries_left("auth") == 0
    url = f"/counter/cards/{card_id}"
    assert "ロック中" in client.get(url).get_data(as_text=True)
    bad = post_form(client, f"{url}/pin-reset", {
        "kind": "sign", "identity_document": "旅券", "new_pin": "2468", "new_pin_confirm": "2468"},
        form_page=url)
    assert bad.status_code == 400 and "英大文字" in bad.get_data(as_text=True)
    no_document = post_form(client, f"{url}/pin-reset", {
        "kind": "auth", "identity_document": "", "new_pin": "2468", "new_pin_confirm": "2468"},
        form_page=url)
    assert no_document.status_code == 400
    assert "本人確認書類を選択" in no_document.get_data(as_text=True)
    response = post_form(client, f"{url}/pin-reset", {
        "kind": "auth", "identity_document": "旅券", "new_pin": "2468",
        "new_pin_confirm": "2468"}, form_page=url)
    assert response.status_code == 302
    assert "再設定しました" in client.get(url).get_data(as_text=True)
    with _open(services, card_id) as card:
        assert card.tries_left("auth") == 3
        card.verify_pin("auth", "2468")
    assert "card.pin_reset.auth" in _actions(sessions)


def test_revocation_on_the_holders_request(
        client: FlaskClient, services: Services, register: Register,
        sessions: sessionmaker[Session]) -> None:
    login(client, "clerk")
    card_id, _ = _enrol(client, arrive(register))
    issued = _issued(sessions, card_id)
    url = f"/counter/cards/{card_id}"
    wrong = post_form(client, f"{url}/revoke", {"serial": "ffff"}, form_page=url)
    assert wrong.status_code == 400 and "このカードの電子証明書" in wrong.get_data(as_text=True)
    serial = f"{int(issued['sign'].serial):x}"
    response = post_form(client, f"{url}/revoke", {"serial": serial, "key_compromise": "y"},
                         form_page=url)
    assert response.status_code == 302
    assert "鍵の漏えい" in client.get(url).get_data(as_text=True)
    assert _status(services, issued["sign"]) == (CertStatus.REVOKED, ReasonFlags.key_compromise)
    assert _status(services, issued["auth"])[0] is CertStatus.GOOD
    again = post_form(client, f"{url}/revoke", {"serial": serial}, form_page=url)
    assert again.status_code == 302 and "すでに失効" in client.get(url).get_data(as_text=True)
    assert _actions(sessions).count("card.revoke_request") == 2


def test_the_auditor_reads_but_acts_on_nothing(
        client: FlaskClient, services: Services, register: Register,
        sessions: sessionmaker[Session]) -> None:
    code = arrive(register)
    login(client, "clerk")
    card_id, _ = _enrol(client, code)
    _logout(client, f"/counter/cards/{card_id}")
    login(client, "auditor")
    refused = client.get(f"/counter/residents/{code}/enrol")
    assert refused.status_code == 403 and "権限" in refused.get_data(as_text=True)
    url = f"/counter/cards/{card_id}"
    page = client.get(url)
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="read-only"' in text and "report-lost" not in text
    lost = client.post(f"{url}/lost", data={"csrf_token": csrf_token(page)})
    assert lost.status_code == 403 and lost.mimetype == "text/html"
    for row in _issued(sessions, card_id).values():
        assert _status(services, row)[0] is CertStatus.GOOD


def test_forms_without_their_csrf_token_are_refused(
        client: FlaskClient, services: Services, register: Register,
        sessions: sessionmaker[Session]) -> None:
    code = arrive(register)
    login(client, "clerk")
    step1 = client.post(f"/counter/residents/{code}/enrol",
                        data={"identity_document": "運転免許証", "identity_checked": "y"})
    assert step1.status_code == 400 and "有効期限" in step1.get_data(as_text=True)
    pins_url = _start(client, code)
    step2 = client.post(pins_url, data={
        "auth_pin": AUTH_PIN, "auth_pin_confirm": AUTH_PIN,
        "signing_password": SIGNING_PASSWORD, "signing_password_confirm": SIGNING_PASSWORD})
    assert step2.status_code == 400
    with sessions() as session:
        assert cards.cards_of(session, code) == []
    card_id, _ = _enrol_from(client, pins_url)
    lost = client.post(f"/counter/cards/{card_id}/lost")
    assert lost.status_code == 400
    for row in _issued(sessions, card_id).values():
        assert _status(services, row)[0] is CertStatus.GOOD


def test_another_municipalitys_card_is_not_found(
        client: FlaskClient, register: Register, hiratsuka: str) -> None:
    login(client, "clerk")
    card_id, _ = _enrol(client, arrive(register))
    _logout(client, f"/counter/cards/{card_id}")
    login(client, "h-clerk", PASSWORD)
    assert client.get(f"/counter/cards/{card_id}").status_code == 404
    assert client.get("/counter/cards/not-a-card").status_code == 404


_LONG = re.compile(r"[A-Za-z0-9_.\-]{8,}")  # tokens, ids, serials: a PIN inside is chance


def test_no_pin_in_any_response_or_log_record(
        client: FlaskClient, register: Register, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bodies: list[str] = []
    code = arrive(register)
    login(client, "clerk")
    pins_url = _start(client, code)
    bodies.append(_pins(client, pins_url, auth_confirm="5791").get_data(as_text=True))
    bodies.append(_pins(client, pins_url, sign_confirm="QZX7W3KQ").get_data(as_text=True))
    done = _pins(client, pins_url)
    bodies.append(done.get_data(as_text=True))
    bodies.append(client.get(done.headers["Location"]).get_data(as_text=True))
    card_id = _field(bodies[-1], "card-id")
    url = f"/counter/cards/{card_id}"
    reset = post_form(client, f"{url}/pin-reset", {
        "kind": "sign", "identity_document": "在留カード", "new_pin": "NEWPASS9",
        "new_pin_confirm": "NEWPASS8"}, form_page=url)
    bodies += [reset.get_data(as_text=True), client.get(url).get_data(as_text=True)]
    for body in bodies:
        assert SIGNING_PASSWORD not in body and "NEWPASS" not in body
        assert AUTH_PIN not in _LONG.sub("", body) and "5791" not in _LONG.sub("", body)
    logged = " ".join(record.getMessage() for record in caplog.records)
    for secret in (AUTH_PIN, "5791", SIGNING_PASSWORD, "NEWPASS"):
        assert secret not in logged
