"""The logged-in resident's pages: certificates with status, provision history, consent."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from jukibridge import provision, workers
from jukibridge.change_requests import Relocation
from jukibridge.errors import PermissionDenied
from jukibridge.register import Register
from pki.clock import FrozenClock
from revocation import consents
from revocation.consents import Channel, ConsentState
from tests.storage.conftest import Jpki
from tests.web.conftest import csrf_token
from tests.web.portal_helpers import Holder, portal_login
from web.services import Services


def _rows(page: str, table: str) -> list[str]:
    found = re.search(rf'<table id="{table}">(.*?)</table>', page, re.S)
    assert found, page
    return re.findall(r"<tr class=[^>]*>.*?</tr>", found.group(1), re.S)


def _consent_state(page: str) -> str:
    found = re.search(r'id="consent-state" data-state="(\w+)"', page)
    assert found, page
    return found.group(1)


def test_my_certificates_with_their_status(client: FlaskClient, jpki: Jpki, holder: Holder,
                                           register: Register, services: Services,
                                           clock: FrozenClock) -> None:
    workers.drain(services.sessions, clock)
    portal_login(client, jpki, holder)
    page = client.get("/portal/me").get_data(as_text=True)
    assert "山田　花子 様" in page
    rows = _rows(page, "certificates")
    found = {re.search(r'data-kind="(\w+)" data-status="(\w+)"', r).groups()  # type: ignore[union-attr]
             for r in rows}
    assert found == {("sign", "valid"), ("auth", "valid")}
    register.perform("clerk", Relocation(resident_codes=[holder.resident_code],
                                         address="東町5番8号"))
    jpki("tiers", "drain")
    jpki("revocation", "run")
    page = client.get("/portal/me").get_data(as_text=True)
    assert 'data-kind="sign" data-status="revoked"' in page
    assert 'data-kind="auth" data-status="valid"' in page, "still logged in"
    assert "基本4情報（氏名・生年月日・性別・住所）の変更" in page
    assert holder.resident_code not in page, "the resident code is not shown"


def test_the_provision_history(client: FlaskClient, jpki: Jpki, holder: Holder,
                               services: Services, clock: FrozenClock) -> None:
    portal_login(client, jpki, holder)
    page = client.get("/portal/me").get_data(as_text=True)
    assert 'href="/portal/me/provisions"' in page
    empty = client.get("/portal/me/provisions").get_data(as_text=True)
    assert "提供の記録はありません" in empty and '<table id="provisions">' in empty
    workers.drain(services.sessions, clock)
    given = provision.request(services.sessions, clock, resident_code=holder.resident_code,
                              agency="japan-pension-service",
                              purpose_id="pension-status-check")
    with pytest.raises(PermissionDenied):
        provision.request(services.sessions, clock, resident_code=holder.resident_code,
                          agency="mlit", purpose_id="pension-status-check")
    page = client.get("/portal/me/provisions").get_data(as_text=True)
    rows = _rows(page, "provisions")
    assert len(rows) == 2
    refused, provided = rows  # newest first
    assert 'data-outcome="provided"' in provided and "日本年金機構" in provided
    assert "住民基本台帳法第30条の9" in provided and "2026年4月1日 10:00:00" in provided
    assert "個人番号" in provided and "氏名" in provided
    assert 'data-outcome="refused"' in refused and "提供しませんでした" in refused
    assert "日本年金機構" not in refused, "the refused agency is named as itself"
    number = given.identity.individual_number
    assert number is not None and number not in page, "never the full individual number"


def test_consent_give_and_withdraw_with_history(client: FlaskClient, jpki: Jpki,
                                                holder: Holder, services: Services,
                                                clock: FrozenClock) -> None:
    workers.drain(services.sessions, clock)
    portal_login(client, jpki, holder)
    page = client.get("/portal/me").get_data(as_text=True)
    assert _consent_state(page) == "none"
    assert 'id="consent-give"' in page and 'id="consent-withdraw"' not in page
    given = client.post("/portal/me/consent",
                        data={"csrf_token": csrf_token(page), "action": "give"})
    assert given.status_code == 302 and given.headers["Location"] == "/portal/me"
    page = client.get("/portal/me").get_data(as_text=True)
    assert _consent_state(page) == "given" and "同意を登録しました" in page
    assert 'id="consent-withdraw"' in page and 'id="consent-give"' not in page
    clock.advance(timedelta(minutes=1))
    client.post("/portal/me/consent", data={"csrf_token": csrf_token(page),
                                            "action": "withdraw"})
    page = client.get("/portal/me").get_data(as_text=True)
    assert _consent_state(page) == "withdrawn" and "同意を撤回しました" in page
    assert len(_rows(page, "consent-history")) == 2
    history = consents.history(services.sessions, holder.resident_code)
    assert [(c.state, c.channel) for c in history] == [
        (ConsentState.GIVEN, Channel.PORTAL), (ConsentState.WITHDRAWN, Channel.PORTAL)]
    assert history[1].recorded_at - history[0].recorded_at == timedelta(minutes=1)
    assert consents.current(services.sessions, holder.resident_code) is ConsentState.WITHDRAWN


def test_consent_needs_a_login_and_its_csrf_token(client: FlaskClient, jpki: Jpki,
                                                  holder: Holder, services: Services) -> None:
    anonymous = client.post("/portal/me/consent", data={"action": "give"})
    assert anonymous.status_code == 400, "CSRF is checked first"
    portal_login(client, jpki, holder)
    refused = client.post("/portal/me/consent", data={"action": "give"})
    assert refused.status_code == 400 and "有効期限が切れたか" in refused.get_data(as_text=True)
    page = client.get("/portal/me").get_data(as_text=True)
    bogus = client.post("/portal/me/consent", data={"csrf_token": csrf_token(page),
                                                    "action": "everything"})
    assert bogus.status_code == 302
    assert "受け付けられませんでした" in client.get("/portal/me").get_data(as_text=True)
    assert consents.history(services.sessions, holder.resident_code) == []


def test_the_account_pages_need_a_login(client: FlaskClient) -> None:
    for url in ("/portal/me", "/portal/me/provisions"):
        response = client.get(url)
        assert response.status_code == 302 and response.headers["Location"] == "/portal/login"
