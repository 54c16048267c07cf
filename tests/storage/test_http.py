"""The web service over HTTP: CRLs, CA certificates, OCSP, the verification API and problem
documents, through Flask's test client (no network) on every backend; once through a real
server on a loopback port."""

from __future__ import annotations

import base64
import json
import threading
import urllib.request
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from jukibridge.register import Register
from pki.clock import FrozenClock
from tests.storage.conftest import Jpki, enrol_card
from tests.storage.helpers import arrive
from web.app import create_app
from web.config import load_settings
from web.server import start
from web.services import Services

PROBLEM_KEYS = {"type", "title", "status", "detail"}


@pytest.fixture
def services(card_instance: Path, clock: FrozenClock) -> Iterator[Services]:
    """The services of the ``card_instance`` (both CAs initialised), with the test clock."""
    built = Services.build(load_settings(), clock=clock)
    yield built
    built.close()


@pytest.fixture
def app(services: Services) -> Flask:
    app = create_app(services=services, test_config={"TESTING": True})

    @app.get("/test-only/boom")
    def boom() -> str:
        raise RuntimeError("secret internal detail")

    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def card(jpki: Jpki, card_instance: Path, register: Register) -> tuple[Path, x509.Certificate]:
    """An enrolled card and its signing certificate (read back with ``jpki card read-cert``)."""
    path, _ = enrol_card(jpki, card_instance, arrive(register))
    pem = card_instance / "sign.pem"
    jpki("card", "read-cert", str(path), "--kind", "sign", "--pin-file",
         str(card_instance / "sign.pin"), "-o", str(pem))
    return path, x509.load_pem_x509_certificate(pem.read_bytes())


def _root(client: FlaskClient) -> x509.Certificate:
    response = client.get("/ca/sign-1.cer")
    assert response.status_code == 200 and response.mimetype == "application/pkix-cert"
    return x509.load_der_x509_certificate(response.data)


def _crl_path(certificate: x509.Certificate) -> tuple[str, str]:
    points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    (url,) = [name.value for point in points for name in point.full_name or ()]
    return url, urlsplit(url).path


def _assert_problem(response: TestResponse, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    body = json.loads(text)
    assert set(body) >= PROBLEM_KEYS and body["status"] == status
    return dict(body)


def _example(folder: Path) -> Path:
    source = folder / "tax_return.xml"
    source.write_bytes(resources.files("pki").joinpath("signing/examples/tax_return.xml")
                       .read_bytes())
    return source


# -- repository ---------------------------------------------------------------------------------


def test_the_crl_at_the_certificates_distribution_point_names_it_in_its_idp(
        client: FlaskClient, card: tuple[Path, x509.Certificate]) -> None:
    _, certificate = card
    root = _root(client)
    certificate.verify_directly_issued_by(root)
    url, path = _crl_path(certificate)
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == "application/pkix-crl"
    assert "Expires" in response.headers
    crl = x509.load_der_x509_crl(response.data)
    assert crl.is_signature_valid(root.public_key())  # type: ignore[arg-type]
    idp = crl.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert idp.critical
    assert [name.value for name in idp.value.full_name or ()] == [url]
    assert crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is None
    full = client.get("/crl/sign-1/full.crl")
    assert full.status_code == 200
    x509.load_der_x509_crl(full.data)


def test_unknown_crl_partitions_and_ca_generations_are_404_problems(
        client: FlaskClient, card: tuple[Path, x509.Certificate]) -> None:
    for path in ("/crl/sign-1/nonsense.crl", "/crl/sign-1/999999.crl", "/crl/sign-9/full.crl",
                 "/ca/sign-9.cer", "/no/such/page"):
        _assert_problem(client.get(path), 404)


# -- OCSP ---------------------------------------------------------------------------------------


def _ocsp_request(certificate: x509.Certificate, issuer: x509.Certificate) -> bytes:
    return (ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA1())
            .build().public_bytes(Encoding.DER))


def _status(der: bytes, *, mimetype: str) -> ocsp.OCSPResponse:
    assert mimetype == "application/ocsp-response"
    response = ocsp.load_der_ocsp_response(der)
    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    return response


def test_ocsp_post_and_get_say_good_then_revoked_after_jpki_revoke(
        client: FlaskClient, jpki: Jpki, card: tuple[Path, x509.Certificate]) -> None:
    _, certificate = card
    request = _ocsp_request(certificate, _root(client))
    posted = client.post("/ocsp", data=request, content_type="application/ocsp-request")
    assert _status(posted.data, mimetype=posted.mimetype).certificate_status \
        is ocsp.OCSPCertStatus.GOOD
    encoded = base64.b64encode(request).decode()
    for path in ("/ocsp/" + quote(encoded, safe=""), "/ocsp/" + encoded):  # RFC 6960 A.1
        got = client.get(path)
        answer = _status(got.data, mimetype=got.mimetype)
        assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
        assert answer.serial_number == certificate.serial_number

    jpki("revoke", str(certificate.serial_number), "--operator", "clerk")
    for response in (client.post("/ocsp", data=request, content_type="application/ocsp-request"),
                     client.get("/ocsp/" + quote(encoded, safe=""))):
        answer = _status(response.data, mimetype=response.mimetype)
        assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
        assert answer.revocation_time_utc is not None
        assert answer.revocation_reason is None  # unspecified: RFC 5280 §5.3.1 omits the code

    jpki("revocation", "run")  # the worker's round re-issues the partition's CRL
    crl = x509.load_der_x509_crl(client.get(_crl_path(certificate)[1]).data)
    assert crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None


def test_malformed_ocsp_requests_get_malformed_request_never_a_500(
        client: FlaskClient, card: tuple[Path, x509.Certificate]) -> None:
    for response in (client.post("/ocsp", data=b"\x30\x03junk",
                                 content_type="application/ocsp-request"),
                     client.post("/ocsp", data=b"x" * 20_000,
                                 content_type="application/ocsp-request"),
                     client.get("/ocsp/not*base64"),
                     client.get("/ocsp/" + base64.b64encode(b"\x30\x00").decode())):
        assert response.status_code == 200 and response.mimetype == "application/ocsp-response"
        assert ocsp.load_der_ocsp_response(response.data).response_status \
            is ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    _assert_problem(client.post("/ocsp", data=b"x", content_type="text/plain"), 415)


# -- verification API ---------------------------------------------------------------------------


def test_verify_answers_the_report_with_200_for_a_good_and_a_tampered_submission(
        client: FlaskClient, jpki: Jpki, card_instance: Path,
        card: tuple[Path, x509.Certificate]) -> None:
    path, _ = card
    signed = card_instance / "signed.xml"
    jpki("sign", str(_example(card_instance)), "--card", str(path), "--pin-file",
         str(card_instance / "sign.pin"), "-o", str(signed))
    response = client.post("/api/v1/verify", data=signed.read_bytes(),
                           content_type="application/xml")
    assert response.status_code == 200 and response.mimetype == "application/json"
    report = response.get_json()
    (signature,) = report["signatures"]
    assert report["indication"] == "TOTAL_PASSED"
    assert "basic_four" not in signature  # no verifier is entitled through the API yet

    tampered = signed.read_bytes().replace(b"6500000", b"9500000")
    response = client.post("/api/v1/verify", data=tampered, content_type="text/xml")
    assert response.status_code == 200
    (signature,) = response.get_json()["signatures"]
    assert (signature["indication"], signature["sub_indication"]) == (
        "TOTAL_FAILED", "HASH_FAILURE")


def test_verify_takes_a_detached_cms_signature_as_multipart(
        client: FlaskClient, jpki: Jpki, card_instance: Path,
        card: tuple[Path, x509.Certificate]) -> None:
    content = card_instance / "application.txt"
    content.write_text("申請書", "utf-8")
    signature = card_instance / "application.p7s"
    jpki("sign", str(content), "--cms", "--card", str(card[0]), "--pin-file",
         str(card_instance / "sign.pin"), "-o", str(signature))

    def post(data: bytes) -> dict[str, object]:
        import io

        response = client.post("/api/v1/verify", content_type="multipart/form-data", data={
            "signature": (io.BytesIO(signature.read_bytes()), "application.p7s"),
            "content": (io.BytesIO(data), "application.txt")})
        assert response.status_code == 200
        return dict(response.get_json())

    assert post(content.read_bytes())["indication"] == "TOTAL_PASSED"
    assert post("改ざん".encode())["indication"] == "TOTAL_FAILED"
    missing = client.post("/api/v1/verify", content_type="multipart/form-data",
                          data={"content": "x"})
    assert "signature" in str(_assert_problem(missing, 400)["detail"])


def test_bad_requests_are_problem_documents_without_a_stack_trace(
        client: FlaskClient, app: Flask, card: tuple[Path, x509.Certificate]) -> None:
    body = _assert_problem(client.post("/api/v1/verify", data=b"<DATA><unclosed>",
                                       content_type="application/xml"), 400)
    assert body["type"] != "about:blank"
    _assert_problem(client.post("/api/v1/verify", data=b"", content_type="application/xml"),
                    400)
    _assert_problem(client.post("/api/v1/verify", data=b"{}", content_type="application/json"),
                    415)
    not_allowed = client.get("/api/v1/verify")
    _assert_problem(not_allowed, 405)
    assert "POST" in not_allowed.headers["Allow"]
    app.config["MAX_CONTENT_LENGTH"] = 1000
    _assert_problem(client.post("/api/v1/verify", data=b"<a/>" * 1000,
                                content_type="application/xml"), 413)
    failure = _assert_problem(client.get("/test-only/boom"), 500)
    assert "secret" not in json.dumps(failure) and "RuntimeError" not in json.dumps(failure)


# -- a real server ------------------------------------------------------------------------------


def test_a_crl_fetched_over_loopback_from_werkzeug_and_from_waitress(
        app: Flask, services: Services, card: tuple[Path, x509.Certificate]) -> None:
    path = _crl_path(card[1])[1]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=10) as r:
            assert r.headers["Content-Type"] == "application/pkix-crl"
            x509.load_der_x509_crl(r.read())
    finally:
        server.shutdown()
        thread.join(5)

    running = start(services, "127.0.0.1", 0, workers=False)  # what `jpki serve` runs
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    try:
        with urllib.request.urlopen(running.url + path, timeout=10) as r:
            assert r.headers["Content-Type"] == "application/pkix-crl"
            x509.load_der_x509_crl(r.read())
    finally:
        running.stop()
        thread.join(5)
    assert not thread.is_alive()
