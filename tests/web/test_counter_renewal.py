"""Counter card page: renewal and re-issue of the certificates onto the card."""

from __future__ import annotations

import hashlib
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ReasonFlags, ocsp
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ca.tables import IssuedCertificate
from jukibridge import cards, workers
from jukibridge.cards import CardRecord
from jukibridge.change_requests import Relocation
from jukibridge.register import Register
from jukibridge.tables import AuditEntry
from pki import basic_four
from pki.card import Card
from pki.clock import FrozenClock
from tests.storage.helpers import arrive
from tests.web.conftest import csrf_token, login, post_form
from web.enrolment import enrol
from web.secrets import card_seal_key
from web.services import Services

AUTH_PIN = "5790"
SIGNING_PASSWORD = "QZX7W3KP"
OTHER = "その他"  # the identity document "other", named in a second field
# Enrolled at START (2026-04-01 10:00 JST): both certificates' last valid day is 2029-04-01.
FOUR_MONTHS_BEFORE = datetime(2028, 12, 1, 1, 0, tzinfo=UTC)
TWO_MONTHS_BEFORE = datetime(2029, 2, 1, 1, 0, tzinfo=UTC)


def _enrol(services: Services, code: str) -> tuple[str, Path]:
    """A card as the counter's enrolment leaves it: ``<home>/cards/<card_id>.jcard``."""
    folder = services.settings.home / "cards"
    done = enrol(services, operator="clerk", resident_code=code, identity_document="運転免許証",
                 auth_pin=AUTH_PIN, signing_password=SIGNING_PASSWORD,
                 out=folder / "new.jcard")
    path = folder / f"{done.card_id}.jcard"
    os.replace(done.path, path)
    return done.card_id, path


def _record(sessions: sessionmaker[Session], card_id: str) -> CardRecord:
    with sessions() as session, session.begin():
        return cards.require_active(session, card_id, "112089")


def _actions(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.entry_id)))


def _ocsp(client: FlaskClient, services: Services, serial: str) -> ocsp.OCSPResponse:
    with services.sessions() as session:
        row = session.scalars(select(IssuedCertificate).where(
            IssuedCertificate.serial == serial)).one()
    certificate = x509.load_der_x509_certificate(row.certificate)
    issuer = services.ca.by_key_id(row.issuer_key_id).certificate
    request = (ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA1())
               .build().public_bytes(Encoding.DER))
    answer = client.post("/ocsp", data=request, content_type="application/ocsp-request")
    return ocsp.load_der_ocsp_response(answer.data)


def _signing_certificate(services: Services, path: Path) -> x509.Certificate:
    """Sign through the card with the (unchanged) password; verify with the card's certificate."""
    with Card.open(path, card_seal_key(services.settings)) as held:
        certificate = held.read_certificate("sign", SIGNING_PASSWORD)
        signature = held.sign("sign", hashlib.sha256(b"form").digest(), SIGNING_PASSWORD)
    public = certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(signature, b"form", padding.PKCS1v15(), hashes.SHA256())
    return certificate


def _options(page: str, select_id: str) -> list[str]:
    found = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert found, f"no #{select_id}"
    return re.findall(r'value="([^"]*)"', found.group(1))


def test_renewal_on_the_card_page_from_three_months_before_expiry(
        client: FlaskClient, services: Services, register: Register,
        sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    card_id, path = _enrol(services, arrive(register))
    before = _record(sessions, card_id)
    url = f"/counter/cards/{card_id}"
    clock.set(FOUR_MONTHS_BEFORE)
    login(client, "clerk")
    page = client.get(url).get_data(as_text=True)
    assert 'id="renew-submit"' not in page and 'id="reissue-submit"' not in page
    assert 'id="renew-not-yet"' in page and "令和11年1月1日から" in page
    image = path.read_bytes()
    early = client.post(f"{url}/renew", data={
        "kind": "both", "identity_document": "運転免許証", "csrf_token": csrf_token(page)})
    text = early.get_data(as_text=True)
    assert early.status_code == 409 and "有効期限の3か月前（令和11年1月1日）から" in text
    assert path.read_bytes() == image and _record(sessions, card_id) == before

    clock.set(TWO_MONTHS_BEFORE)
    login(client, "clerk")  # the session went idle
    page = client.get(url).get_data(as_text=True)
    assert 'id="renew-submit"' in page and 'id="renew-not-yet"' not in page
    assert _options(page, "renew-kind") == ["both", "sign", "auth"]
    assert 'id="reissue-submit"' not in page
    no_document = post_form(client, f"{url}/renew", {"kind": "both", "identity_document": ""},
                            form_page=url)
    assert no_document.status_code == 400
    assert "本人確認書類を選択" in no_document.get_data(as_text=True)
    assert path.read_bytes() == image
    done = post_form(client, f"{url}/renew", {
        "kind": "both", "identity_document": OTHER, "identity_document_other": "健康保険証"},
        form_page=url)
    assert done.status_code == 302, done.get_data(as_text=True)
    page = client.get(url).get_data(as_text=True)
    assert "を更新しました" in page and "暗証番号・パスワードは変わりません" in page
    after = _record(sessions, card_id)
    assert after.signing_serial != before.signing_serial
    assert after.auth_serial != before.auth_serial
    for old in (before.signing_serial, before.auth_serial):
        assert old is not None
        assert re.search(rf'data-serial="{int(old):x}" data-status="revoked"', page)
        answer = _ocsp(client, services, old)
        assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
        assert answer.revocation_reason is ReasonFlags.superseded
    assert "失効（更新" in page
    for new in (after.signing_serial, after.auth_serial):
        assert new is not None
        assert re.search(rf'data-serial="{int(new):x}" data-status="valid"', page)
        assert _ocsp(client, services, new).certificate_status is ocsp.OCSPCertStatus.GOOD
    signing = _signing_certificate(services, path)
    assert str(signing.serial_number) == after.signing_serial
    assert 'id="renew-submit"' not in page  # the new certificates are years from expiry
    assert _actions(sessions).count("card.renew") == 1


def test_reissue_on_the_card_page_after_a_relocation(
        client: FlaskClient, services: Services, register: Register,
        sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    code = arrive(register)
    card_id, path = _enrol(services, code)
    before = _record(sessions, card_id)
    url = f"/counter/cards/{card_id}"
    login(client, "clerk")
    assert 'id="reissue-submit"' not in client.get(url).get_data(as_text=True)
    register.perform("clerk", Relocation(resident_codes=[code], address="東町5番8号"))
    workers.drain(sessions, clock)
    assert services.revocation.consumer.drain() == 1
    clock.advance(timedelta(minutes=5))
    page = client.get(url).get_data(as_text=True)
    assert "基本4情報の変更" in page and 'id="reissue-submit"' in page
    assert _options(page, "reissue-kind") == ["sign"]
    still_good = post_form(client, f"{url}/reissue", {"kind": "auth", "identity_document": "旅券"},
                           form_page=url)
    assert still_good.status_code == 409
    assert "有効なため、再発行できません" in still_good.get_data(as_text=True)
    done = post_form(client, f"{url}/reissue", {"kind": "sign", "identity_document": "旅券"},
                     form_page=url)
    assert done.status_code == 302, done.get_data(as_text=True)
    page = client.get(url).get_data(as_text=True)
    assert "署名用電子証明書（シリアル番号" in page and "を再発行しました" in page
    assert 'id="reissue-submit"' not in page
    after = _record(sessions, card_id)
    assert after.auth_serial == before.auth_serial
    signing = _signing_certificate(services, path)
    assert str(signing.serial_number) == after.signing_serial != before.signing_serial
    assert basic_four.decode(signing).address == "埼玉県所沢市東町５番８号"
    assert _actions(sessions).count("card.reissue") == 1


def test_no_renewal_forms_for_an_auditor_or_a_lost_card(
        client: FlaskClient, services: Services, register: Register,
        sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    card_id, path = _enrol(services, arrive(register))
    url = f"/counter/cards/{card_id}"
    clock.set(TWO_MONTHS_BEFORE)
    login(client, "auditor")
    page = client.get(url)
    text = page.get_data(as_text=True)
    assert 'id="read-only"' in text and "renew-submit" not in text
    denied = client.post(f"{url}/renew", data={
        "kind": "both", "identity_document": "旅券", "csrf_token": csrf_token(page)})
    assert denied.status_code == 403
    client.post("/counter/logout", data={"csrf_token": csrf_token(page)})
    login(client, "clerk")
    no_token = client.post(f"{url}/renew", data={"kind": "both", "identity_document": "旅券"})
    assert no_token.status_code == 400
    image = path.read_bytes()
    assert post_form(client, f"{url}/lost", {}, form_page=url).status_code == 302
    page = client.get(url)
    text = page.get_data(as_text=True)
    assert "renew-submit" not in text and "reissue-submit" not in text
    refused = client.post(f"{url}/reissue", data={
        "kind": "sign", "identity_document": "旅券", "csrf_token": csrf_token(page)})
    assert refused.status_code == 409 and "紛失届済みのため、再発行できません" in refused.get_data(
        as_text=True)
    assert path.read_bytes() == image
    assert "card.renew" not in _actions(sessions) and "card.reissue" not in _actions(sessions)
