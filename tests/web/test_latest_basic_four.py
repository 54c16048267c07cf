"""The latest basic four (最新の基本4情報の提供) and the basic four in verification reports,
for registered verifiers, through the API.

A relocation at the counter revokes the holder's signing certificate (affiliationChanged); a
registered verifier then asks for the holder's current basic four and gets them only with the
holder's consent. Every answer and refusal appears in the holder's disclosure (the portal and
``jpki provision history``) and in the verifier log. In a verification report, only an active
entitled verifier's key brings the signers' basic four; an unknown key is a 401.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from jukibridge import provision
from jukibridge.change_requests import Relocation
from jukibridge.register import Register
from pki.clock import FrozenClock
from revocation import consents, verifiers
from revocation.consents import Channel
from revocation.verifiers import Event, LogOutcome, VerifierKind
from tests.storage.conftest import Jpki
from tests.web.portal_helpers import Holder, enrolled, portal_login
from web.services import Services

URL = "/api/v1/basic-four/latest"
PROBLEM = "application/problem+json"
NEW_ADDRESS = "東町5番8号"


@pytest.fixture
def holder(jpki: Jpki, card_instance: Path, register: Register) -> Holder:
    """A resident with a card, known to the national server."""
    enrolled_holder = enrolled(jpki, card_instance, register)
    jpki("tiers", "drain")
    return enrolled_holder


def _key(services: Services, name: str = "国税庁",
         kind: VerifierKind = VerifierKind.NATIONAL) -> str:
    return verifiers.register(services.sessions, services.clock, name=name, kind=kind,
                              operator="chief").api_key


def _ask(client: FlaskClient, key: str | None, serial: int | str, issuer: str = "sign-1",
         header: str = "Authorization") -> TestResponse:
    headers = {} if key is None else {
        header: f"Bearer {key}" if header == "Authorization" else key}
    return client.post(URL, json={"issuer": issuer, "serial": str(serial)}, headers=headers)


def _problem(response: TestResponse, status: int, kind: str) -> str:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["type"] == f"urn:jpki:problem:{kind}"
    return str(body["detail"])


def _relocate(register: Register, jpki: Jpki, holder: Holder) -> None:
    """A relocation at the counter, through the tiers to the revocation service."""
    register.perform("clerk", Relocation(resident_codes=[holder.resident_code],
                                         address=NEW_ADDRESS))
    jpki("tiers", "drain")
    jpki("revocation", "run")


def _disclosed(services: Services, holder: Holder) -> list[provision.ProvisionRecord]:
    return [r for r in provision.history(services.sessions, holder.resident_code)
            if r.purpose_id == provision.LATEST_BASIC_FOUR]


def test_a_consenting_holder_s_current_basic_four_after_a_relocation(
        client: FlaskClient, services: Services, jpki: Jpki, register: Register,
        holder: Holder) -> None:
    key = _key(services)
    _relocate(register, jpki, holder)
    consents.give(services.sessions, services.clock, holder.resident_code,
                  channel=Channel.COUNTER)

    response = _ask(client, key, holder.signing.serial_number)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    body = response.get_json()
    assert body["issuer"] == "sign-1" and body["serial"] == str(holder.signing.serial_number)
    assert body["reason"] == "affiliationChanged"  # RFC 5280, as the status API
    assert body["provided_at"] == "2026-04-01T01:00:00Z"
    four = body["basic_four"]
    assert set(four) == {"name", "birth_date", "sex", "address"}
    assert four["name"] == "山田　花子" and four["sex"] == 2
    assert four["birth_date"] == "419900503"  # 平成2年5月3日
    assert "東町" in four["address"] and "並木" not in four["address"]
    # The same through X-API-Key, with the serial in hex.
    again = _ask(client, key, hex(holder.signing.serial_number), header="X-API-Key")
    assert again.status_code == 200 and again.get_json()["basic_four"] == four

    (first, second) = _disclosed(services, holder)
    assert (first.agency, first.outcome, first.fields) == (
        "国税庁", provision.Outcome.PROVIDED, ("name", "birth_date", "sex", "address"))
    assert first.legal_basis == provision.LATEST_BASIC_FOUR_BASIS and second.at == first.at
    history = jpki("provision", "history", holder.resident_code).output
    assert "国税庁" in history and "latest-basic-four" in history
    uses = [r for r in verifiers.log_entries(services.sessions)
            if r.event is Event.LATEST_BASIC_FOUR]
    assert [(r.outcome, r.serial) for r in uses] == [
        (LogOutcome.PROVIDED, holder.signing.serial_number)] * 2

    # The resident sees it on the portal's disclosure page.
    portal_login(client, jpki, holder)
    page = client.get("/portal/me/provisions").get_data(as_text=True)
    assert "国税庁" in page and "氏名、生年月日、性別、住所" in page
    assert "署名検証者への最新の基本4情報の提供" in page and "latest-basic-four" not in page


def test_refusals_are_problems_and_each_is_disclosed(
        client: FlaskClient, services: Services, jpki: Jpki, register: Register,
        holder: Holder, clock: FrozenClock) -> None:
    key = _key(services)
    serial = holder.signing.serial_number
    consents.give(services.sessions, clock, holder.resident_code, channel=Channel.PORTAL)
    assert "not revoked" in _problem(_ask(client, key, serial), 409, "not-applicable")
    assert "not a signing" in _problem(_ask(client, key, holder.auth.serial_number,
                                            issuer="auth-1"), 409, "not-applicable")
    _problem(_ask(client, key, 12345678901234567890), 404, "unknown-certificate")
    _problem(_ask(client, key, serial, issuer="sign-9"), 404, "unknown-issuer")

    _relocate(register, jpki, holder)
    consents.withdraw(services.sessions, clock, holder.resident_code, channel=Channel.PORTAL)
    assert "consented" in _problem(_ask(client, key, serial), 403, "not-permitted")

    business = _key(services, "株式会社サンプル商店", VerifierKind.PRIVATE)
    consents.give(services.sessions, clock, holder.resident_code, channel=Channel.PORTAL)
    assert "not entitled" in _problem(_ask(client, business, serial), 403, "not-permitted")
    assert _ask(client, key, serial).status_code == 200
    (national,) = [v for v in verifiers.verifiers(services.sessions) if v.name == "国税庁"]
    verifiers.suspend(services.sessions, clock, national.verifier_id, operator="chief")
    assert "suspended" in _problem(_ask(client, key, serial), 403, "not-permitted")

    outcomes = [(r.agency, r.outcome) for r in _disclosed(services, holder)]
    refused, provided = provision.Outcome.REFUSED, provision.Outcome.PROVIDED
    assert outcomes == [
        ("国税庁", refused),  # not revoked
        ("国税庁", refused),  # the authentication certificate
        ("国税庁", refused),  # consent withdrawn
        ("株式会社サンプル商店", refused),  # not entitled
        ("国税庁", provided),
        ("国税庁", refused),  # suspended
    ]
    assert all(r.fields == () for r in _disclosed(services, holder)
               if r.outcome is refused)
    log = [r for r in verifiers.log_entries(services.sessions, national.verifier_id)
           if r.event is Event.LATEST_BASIC_FOUR]
    assert [r.outcome for r in log] == [LogOutcome.REFUSED] * 5 + [
        LogOutcome.PROVIDED, LogOutcome.REFUSED]


def test_without_a_valid_key_nothing_is_said_and_nothing_disclosed(
        client: FlaskClient, services: Services, holder: Holder) -> None:
    key = _key(services)
    serial = holder.signing.serial_number
    for response in (_ask(client, None, serial),
                     _ask(client, key[:-1] + ("A" if key[-1] != "A" else "B"), serial),
                     _ask(client, "not-a-key", serial),
                     client.post(URL, json={"issuer": "sign-1", "serial": str(serial)},
                                 headers={"Authorization": f"Basic {key}"}),
                     client.post(URL, json={"issuer": "sign-1", "serial": str(serial)},
                                 headers={"Authorization": f"Bearer {key}",
                                          "X-API-Key": _key(services, "所沢市")})):
        _problem(response, 401, "verifier-unauthorized")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert _disclosed(services, holder) == []
    refused_keys = [r for r in verifiers.log_entries(services.sessions)
                    if r.event is Event.KEY_REFUSED]
    assert len(refused_keys) == 1  # the wrong secret under a registered key id

    bearer = {"Authorization": f"Bearer {key}"}
    for body in ({"issuer": "sign-1"}, {"issuer": "sign-1", "serial": 5},
                 {"issuer": "sign-1", "serial": "12x"}, ["sign-1", "1"],
                 {"issuer": "sign-1", "serial": "1", "resident_code": "24727059608"}):
        _problem(client.post(URL, json=body, headers=bearer), 400, "invalid-request")
    _problem(client.post(URL, data="issuer=sign-1", headers=bearer,
                         content_type="application/x-www-form-urlencoded"),
             400, "invalid-request")


# -- the basic four in verification reports ------------------------------------------------------


def _signed(jpki: Jpki, holder: Holder) -> bytes:
    form = holder.folder / "tax_return.xml"
    form.write_bytes(resources.files("pki").joinpath("signing/examples/tax_return.xml")
                     .read_bytes())
    out = holder.folder / "signed.xml"
    jpki("sign", str(form), "--card", str(holder.card), "--pin-file",
         str(holder.folder / "sign.pin"), "-o", str(out))
    return out.read_bytes()


def _verify(client: FlaskClient, document: bytes, headers: dict[str, str]) -> TestResponse:
    return client.post("/api/v1/verify", data=document, content_type="application/xml",
                       headers=headers)


def test_only_an_entitled_verifier_s_report_carries_the_basic_four(
        client: FlaskClient, services: Services, jpki: Jpki, holder: Holder,
        clock: FrozenClock) -> None:
    document = _signed(jpki, holder)
    national, local, certified = (
        _key(services, "国税庁"), _key(services, "所沢市", VerifierKind.LOCAL),
        _key(services, "株式会社認定銀行", VerifierKind.CERTIFIED))
    business = _key(services, "株式会社サンプル商店", VerifierKind.PRIVATE)
    for key in (national, local, certified):
        response = _verify(client, document, {"X-API-Key": key})
        assert response.status_code == 200
        (signature,) = response.get_json()["signatures"]
        assert signature["basic_four"]["name"] == "山田　花子"
        assert signature["basic_four"]["birth_date"] == "419900503"
    for headers in ({}, {"X-API-Key": business}):
        (signature,) = _verify(client, document, headers).get_json()["signatures"]
        assert "basic_four" not in signature
    suspended = verifiers.register(services.sessions, clock, name="停止される機関",
                                   kind=VerifierKind.NATIONAL, operator="chief")
    verifiers.suspend(services.sessions, clock, suspended.verifier.verifier_id,
                      operator="chief")
    (signature,) = _verify(client, document, {"Authorization": f"Bearer {suspended.api_key}"}
                           ).get_json()["signatures"]
    assert "basic_four" not in signature
    _problem(_verify(client, document, {"X-API-Key": national + "x"}), 401,
             "verifier-unauthorized")

    reports = [r for r in verifiers.log_entries(services.sessions) if r.event is Event.REPORT]
    assert [r.outcome for r in reports] == [LogOutcome.PROVIDED] * 3 + [LogOutcome.WITHHELD] * 2
    assert {r.serial for r in reports[:3]} == {holder.signing.serial_number}
    assert "suspended" in str(reports[-1].detail)
    # The basic four of a report come from the certificate, not from the national server.
    assert _disclosed(services, holder) == []
