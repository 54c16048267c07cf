"""The portal's certificate self-check: valid, revoked, on hold, expired and foreign
certificates, from a certificate file or from the card file."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from jukibridge.change_requests import Relocation
from jukibridge.register import Register
from pki.clock import FrozenClock
from pki.profile import CertKind, ca_name
from tests.storage.conftest import Jpki
from tests.web.conftest import csrf_token
from tests.web.portal_helpers import Holder, enrolled
from web.blueprints.portal import checks


def _check(client: FlaskClient, **files: object) -> TestResponse:
    page = client.get("/portal/check")
    data: dict[str, object] = {"csrf_token": csrf_token(page)}
    for name, value in files.items():
        if isinstance(value, bytes):
            data[name] = (io.BytesIO(value), f"{name}.bin")
        else:
            data[name] = value
    return client.post("/portal/check", data=data, content_type="multipart/form-data")


def _result(response: TestResponse) -> tuple[str, str]:
    """(data-status, the page's text) of a check result."""
    text = response.get_data(as_text=True)
    found = re.search(r'id="check-result" data-status="(\w+)"', text)
    assert found, text
    return found.group(1), text


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(Encoding.PEM)


def test_the_portal_home_links_to_check_and_login(client: FlaskClient) -> None:
    text = client.get("/portal/").get_data(as_text=True)
    assert 'href="/portal/check"' in text and 'href="/portal/login"' in text
    assert 'class="portal"' in text and "利用者ポータル" in text


def test_a_valid_certificate_from_pem_der_and_the_card(client: FlaskClient,
                                                      holder: Holder) -> None:
    status, text = _result(_check(client, certificate=_pem(holder.signing)))
    assert status == "valid" and "署名用電子証明書は有効です" in text
    assert "有効期限" in text and "（日本時間）" in text
    status, text = _result(_check(client, certificate=holder.auth.public_bytes(Encoding.DER)))
    assert status == "valid" and "利用者証明用電子証明書は有効です" in text
    card = holder.card.read_bytes()
    status, text = _result(_check(client, card=card, kind="auth"))
    assert status == "valid" and "利用者証明用電子証明書" in text
    status, text = _result(_check(client, card=card, kind="sign", signing_password="ABC123"))
    assert status == "valid" and "署名用電子証明書は有効です" in text
    assert "ABC123" not in text, "the password is never echoed"
    assert holder.card.read_bytes() == card, "the resident's file is untouched"


def test_a_card_with_a_wrong_or_missing_signing_password(client: FlaskClient,
                                                        holder: Holder) -> None:
    card = holder.card.read_bytes()
    wrong = _check(client, card=card, kind="sign", signing_password="WRONG9")
    text = wrong.get_data(as_text=True)
    assert wrong.status_code == 400 and "署名用パスワードが違います" in text
    assert 'id="check-result"' not in text and "WRONG9" not in text
    missing = _check(client, card=card, kind="sign")
    assert missing.status_code == 400 and "署名用パスワードを入力" in missing.get_data(
        as_text=True)
    malformed = _check(client, card=card, kind="sign", signing_password="abc")
    assert malformed.status_code == 400 and "6〜16文字" in malformed.get_data(as_text=True)


def test_repeated_wrong_passwords_stop_at_the_cards_limit(client: FlaskClient,
                                                          holder: Holder) -> None:
    card = holder.card.read_bytes()
    for _ in range(checks.MAX_WRONG_PASSWORDS):
        _check(client, card=card, kind="sign", signing_password="WRONG9")
    again = _check(client, card=card, kind="sign", signing_password="ABC123")
    assert again.status_code == 400 and "上限" in again.get_data(as_text=True)
    status, _ = _result(_check(client, card=card, kind="auth"))
    assert status == "valid", "the authentication certificate needs no password"


def test_bad_uploads_get_a_japanese_message(client: FlaskClient, holder: Holder) -> None:
    nothing = _check(client)
    assert nothing.status_code == 400 and "どちらか一方" in nothing.get_data(as_text=True)
    both = _check(client, certificate=_pem(holder.auth), card=holder.card.read_bytes())
    assert both.status_code == 400 and "どちらか一方" in both.get_data(as_text=True)
    junk = _check(client, certificate=b"not a certificate")
    assert junk.status_code == 400 and "PEM形式またはDER形式" in junk.get_data(as_text=True)
    not_a_card = _check(client, card=b"JPKICARD but not really")
    assert not_a_card.status_code == 400 and "カードファイルとして読み取れません" in (
        not_a_card.get_data(as_text=True))


def test_revoked_after_a_relocation_with_reason_and_date_in_jst(
        client: FlaskClient, holder: Holder, jpki: Jpki, register: Register,
        clock: FrozenClock) -> None:
    clock.advance(timedelta(hours=2))  # 12:00 JST
    register.perform("clerk", Relocation(resident_codes=[holder.resident_code],
                                         address="東町5番8号"))
    jpki("tiers", "drain")
    jpki("revocation", "run")
    status, text = _result(_check(client, certificate=_pem(holder.signing)))
    assert status == "revoked"
    assert "基本4情報（氏名・生年月日・性別・住所）の変更" in text
    assert "2026年4月1日 12:00:00" in text, "the revocation date in Japan time"
    status, _ = _result(_check(client, certificate=_pem(holder.auth)))
    assert status == "valid", "a relocation revokes the signing certificate only"


def test_revoked_on_request_and_held_after_a_loss(client: FlaskClient, holder: Holder,
                                                  jpki: Jpki, card_instance: Path,
                                                  register: Register) -> None:
    jpki("revoke", str(holder.auth.serial_number), "--key-compromise", "--operator", "clerk")
    status, text = _result(_check(client, certificate=_pem(holder.auth)))
    assert status == "revoked" and "秘密鍵の漏えいの届出" in text
    other = enrolled(jpki, card_instance, register, name="other.jcard", address="東町5番8号")
    jpki("card", "report-lost", other.card_id, "--operator", "clerk")
    status, text = _result(_check(client, certificate=_pem(other.signing)))
    assert status == "hold" and "一時停止" in text and "カードの紛失の届出" in text


def test_an_expired_certificate(client: FlaskClient, holder: Holder,
                                clock: FrozenClock) -> None:
    clock.advance(holder.signing.not_valid_after_utc - clock.now() + timedelta(seconds=1))
    status, text = _result(_check(client, certificate=_pem(holder.signing)))
    assert status == "expired" and "有効期限" in text and "切れています" in text


def test_a_certificate_not_issued_here(client: FlaskClient, holder: Holder) -> None:
    """A look-alike CA with our DN signs a certificate: its signature is not ours."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime(2026, 4, 1, tzinfo=UTC)
    forged = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "X")]))
              .issuer_name(ca_name(CertKind.AUTHENTICATION))
              .public_key(key.public_key()).serial_number(holder.auth.serial_number)
              .not_valid_before(now).not_valid_after(now + timedelta(days=30))
              .sign(key, hashes.SHA256()))
    status, text = _result(_check(client, certificate=_pem(forged)))
    assert status == "unknown" and "当サービス（公的個人認証サービス）の発行ではありません" in text


def test_the_check_form_needs_its_csrf_token(client: FlaskClient, holder: Holder) -> None:
    response = client.post("/portal/check", data={
        "certificate": (io.BytesIO(_pem(holder.auth)), "auth.pem")},
        content_type="multipart/form-data")
    assert response.status_code == 400 and "有効期限" in response.get_data(as_text=True)
    assert 'id="check-result"' not in response.get_data(as_text=True)
