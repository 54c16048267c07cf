"""``GET /api/v1/certificates/<issuer>/<serial>/status`` and ``jpki status``: one set of facts.

good, revoked (time, reason, invalidity date) after a relocation, ``certificateHold`` for a lost
card, ``expired``; issuer by name or key id, serial in decimal or 0x-hex; 404 and 400 problems;
never any personal data.
"""

from __future__ import annotations

import json
from datetime import timedelta

from flask.testing import FlaskClient

from jukibridge.change_requests import Relocation
from jukibridge.register import Register
from pki.clock import FrozenClock
from tests.storage.conftest import Jpki
from tests.web.portal_helpers import Holder
from web.openapi import document
from web.services import Services

KEYS = {"issuer", "issuer_key_id", "serial", "status", "revoked_at", "reason",
        "invalidity_date", "not_after", "expired", "checked_at"}
PROBLEM = "application/problem+json"


def _status(client: FlaskClient, issuer: str, serial: str | int) -> dict[str, object]:
    response = client.get(f"/api/v1/certificates/{issuer}/{serial}/status")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert isinstance(body, dict) and set(body) == KEYS
    return body


def _problem(client: FlaskClient, url: str, status: int, kind: str) -> None:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    assert response.get_json()["type"] == f"urn:jpki:problem:{kind}"


def test_good_by_name_or_key_id_in_decimal_or_hex(
        client: FlaskClient, holder: Holder, services: Services, jpki: Jpki) -> None:
    serial = holder.signing.serial_number
    body = _status(client, "sign-1", serial)
    key_id = services.revocation.directory.issuers()
    sign_key = next(i.key_id for i in key_id if i.name == "sign-1")
    assert body == {
        "issuer": "sign-1", "issuer_key_id": sign_key, "serial": str(serial),
        "status": "good", "revoked_at": None, "reason": None, "invalidity_date": None,
        "not_after": holder.signing.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "expired": False, "checked_at": "2026-04-01T01:00:00Z",
    }
    assert _status(client, sign_key, hex(serial)) == body
    assert _status(client, sign_key.upper(), f"0X{serial:X}") == body
    assert _status(client, "auth-1", holder.auth.serial_number)["status"] == "good"

    text = client.get(f"/api/v1/certificates/sign-1/{serial}/status").get_data(as_text=True)
    assert holder.resident_code not in text and holder.card_id not in text

    cli = jpki("status", "--json", str(holder.folder / "card.jcard.sign.pem"))
    assert json.loads(cli.output) == body  # the same facts from the shell
    assert jpki("status", str(serial), "--issuer", "sign-1").output.strip() == "good"


def test_revoked_after_a_relocation_and_expiry_of_the_other(
        client: FlaskClient, holder: Holder, services: Services, jpki: Jpki,
        register: Register, clock: FrozenClock) -> None:
    register.perform("clerk", Relocation(resident_codes=[holder.resident_code],
                                         address="東町5番8号"))
    jpki("tiers", "drain")
    assert services.revocation.run_once() == 1
    body = _status(client, "sign-1", holder.signing.serial_number)
    assert body["status"] == "revoked" and body["reason"] == "affiliationChanged"
    assert body["revoked_at"] == "2026-04-01T01:00:00Z"
    assert body["invalidity_date"] == "2026-04-01T01:00:00Z"  # start of 4/1 JST, clamped
    assert body["expired"] is False
    cli = jpki("status", "--json", str(holder.signing.serial_number), ok=False)
    assert cli.exit_code == 1 and json.loads(cli.output) == body
    summary = jpki("status", str(holder.signing.serial_number), ok=False).output.strip()
    assert summary == "revoked: affiliationChanged at 2026-04-01T01:00:00Z"

    auth = holder.auth
    clock.set(auth.not_valid_after_utc + timedelta(seconds=1))
    later = _status(client, "auth-1", auth.serial_number)
    assert later["status"] == "good" and later["expired"] is True
    assert later["checked_at"] == (auth.not_valid_after_utc + timedelta(seconds=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    expired = jpki("status", str(auth.serial_number)).output.strip()
    assert expired.startswith("good (expired ")


def test_a_lost_card_is_on_hold(client: FlaskClient, holder: Holder,
                                services: Services) -> None:
    services.revocation.service.card_lost(holder.card_id, operator="clerk")
    for issuer, certificate in (("sign-1", holder.signing), ("auth-1", holder.auth)):
        body = _status(client, issuer, certificate.serial_number)
        assert body["status"] == "revoked" and body["reason"] == "certificateHold"


MALFORMED = ["12a", "0x", "0xg1", "-1", "1.5", "１２", "٣", "1_000", " 1", "9" * 50,
             "0x" + "f" * 41]


def test_a_malformed_serial_is_a_400_problem(client: FlaskClient) -> None:
    for serial in MALFORMED:  # Python's int() would take some of these: the API does not
        _problem(client, f"/api/v1/certificates/sign-1/{serial}/status", 400,
                 "invalid-request")
        _problem(client, f"/api/v1/certificates/sign-9/{serial}/status", 400,
                 "invalid-request")


def test_unknown_issuers_and_serials_are_404_problems(client: FlaskClient,
                                                      holder: Holder) -> None:
    _problem(client, f"/api/v1/certificates/sign-9/{holder.signing.serial_number}/status",
             404, "unknown-issuer")
    _problem(client, f"/api/v1/certificates/auth-1/{holder.signing.serial_number}/status",
             404, "unknown-certificate")  # a signing serial under the authentication CA
    _problem(client, "/api/v1/certificates/sign-1/12345/status", 404, "unknown-certificate")
    _problem(client, "/api/v1/certificates/sign-1/" + "9" * 49 + "/status", 404,
             "unknown-certificate")


def test_the_document_describes_the_status_api() -> None:
    operation = document()["paths"]["/api/v1/certificates/{issuer}/{serial}/status"]["get"]
    assert set(operation["responses"]) == {"200", "400", "404"}
    schema = document()["components"]["schemas"]["CertificateStatus"]
    assert set(schema["required"]) == KEYS == set(schema["properties"])
