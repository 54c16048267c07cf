"""The OpenAPI document of the JSON API: served, complete, and true to the service.

Schemathesis (4.x, ``schemathesis.pytest.from_fixture`` over ``schemathesis.openapi.from_wsgi``)
generates requests from the document and checks every answer: no server error, and status,
media type, headers and body as documented. A real verification report, of a submission signed
with a card, is checked against the document's report schema too.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.schemas import BaseSchema

from jukibridge.register import Register
from pki.verify.report import SCHEMA, SubIndication
from tests.storage.conftest import Jpki, enrol_card
from tests.storage.helpers import arrive
from web.openapi import PATH

MAX_EXAMPLES = 20  # per operation: the whole run stays well under a minute


# A body that matches the document (bytes of the right media type, strings in the right
# fields) is still refused with 400 unless it is a signed document or a signed challenge, which
# a schema cannot express: for these two, 400 is an expected answer to schema-valid data.
# Everything else keeps schemathesis' defaults; the configuration is explicit so that no
# schemathesis.toml lying around changes the test.
CONFIG = {
    "operations": [{
        "include-path": "/api/v1/verify",
        "checks": {"positive_data_acceptance": {
            "expected-statuses": ["2xx", "400", "413"]}},
    }, {
        "include-path": "/api/v1/auth/response",
        "checks": {"positive_data_acceptance": {
            "expected-statuses": ["2xx", "400", "401", "413"]}},
    }],
}


@pytest.fixture
def api_schema(app: Flask) -> BaseSchema:
    return schemathesis.openapi.from_wsgi(PATH, app,
                                          config=SchemathesisConfig.from_dict(CONFIG))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much, HealthCheck.data_too_large])
def test_the_api_answers_as_its_document_says(case: schemathesis.Case) -> None:
    case.call_and_validate()


def test_the_document_describes_verify_and_itself(client: FlaskClient) -> None:
    response = client.get(PATH)
    assert response.status_code == 200 and response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.1")
    verify = document["paths"]["/api/v1/verify"]["post"]
    assert set(verify["requestBody"]["content"]) == {
        "application/xml", "text/xml", "application/pdf", "multipart/form-data"}
    multipart = verify["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert set(multipart["required"]) == {"signature", "content"}
    for status in ("400", "413", "415"):
        assert "application/problem+json" in verify["responses"][status]["content"]
    assert PATH in document["paths"] and "/healthz" in document["paths"]
    schemas = document["components"]["schemas"]
    assert schemas["VerificationReport"]["properties"]["schema"] == {"const": SCHEMA}
    listed = schemas["SignatureReport"]["properties"]["sub_indication"]["enum"]
    assert set(listed) == {None, *(s.value for s in SubIndication)}


def test_unknown_api_urls_and_methods_are_problem_documents(client: FlaskClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    wrong = client.get("/api/v1/verify")
    assert wrong.status_code == 405 and wrong.mimetype == "application/problem+json"
    assert "POST" in wrong.headers["Allow"]


def test_a_real_report_matches_the_documented_schema(
        app: Flask, client: FlaskClient, jpki: Jpki, card_instance: Path,
        register: Register) -> None:
    card, _ = enrol_card(jpki, card_instance, arrive(register))
    form = card_instance / "tax_return.xml"
    form.write_bytes(resources.files("pki").joinpath("signing/examples/tax_return.xml")
                     .read_bytes())
    signed = card_instance / "signed.xml"
    jpki("sign", str(form), "--card", str(card), "--pin-file", str(card_instance / "sign.pin"),
         "-o", str(signed))
    operation = schemathesis.openapi.from_wsgi(PATH, app)["/api/v1/verify"]["POST"]
    passed = client.post("/api/v1/verify", data=signed.read_bytes(),
                         content_type="application/xml")
    assert passed.get_json()["indication"] == "TOTAL_PASSED"
    operation.validate_response(passed)
    tampered = client.post("/api/v1/verify", content_type="text/xml",
                           data=signed.read_bytes().replace(b"6500000", b"9500000"))
    assert tampered.get_json()["signatures"][0]["sub_indication"] == "HASH_FAILURE"
    operation.validate_response(tampered)
    refused = client.post("/api/v1/verify", data=b"<DATA>", content_type="application/xml")
    assert refused.status_code == 400
    operation.validate_response(refused)
