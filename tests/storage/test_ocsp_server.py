"""The OCSP responder's own front (``web.ocsp_server``, uvicorn) over a real loopback socket,
on every backend: good → revoked, GET and POST, nonces, unknown serials, bad input, metrics."""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from jukibridge.register import Register
from pki.clock import FrozenClock
from pki.profile import CertKind
from revocation.ocsp import cert_id
from revocation.rules import Cause
from revocation.service import CertRef
from tests.storage.conftest import Jpki, enrol_card
from tests.storage.helpers import arrive
from web.config import load_settings
from web.metrics import Metrics
from web.ocsp_server import OcspServer, ProbeBatcher, bind
from web.services import Services

OCSP_REQUEST = "application/ocsp-request"


@pytest.fixture
def services(card_instance: Path, clock: FrozenClock) -> Iterator[Services]:
    built = Services.build(load_settings(), clock=clock)
    yield built
    built.close()


@pytest.fixture
def front(services: Services) -> Iterator[OcspServer]:
    server = bind(services.revocation.ocsp, "127.0.0.1", 0, Metrics())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def leaf(jpki: Jpki, card_instance: Path, register: Register) -> x509.Certificate:
    """The signing certificate of a freshly enrolled card."""
    path, _ = enrol_card(jpki, card_instance, arrive(register))
    pem = card_instance / "sign.pem"
    jpki("card", "read-cert", str(path), "--kind", "sign", "--pin-file",
         str(card_instance / "sign.pin"), "-o", str(pem))
    return x509.load_pem_x509_certificate(pem.read_bytes())


def _root(services: Services) -> x509.Certificate:
    return services.ca.current(CertKind.SIGNING).certificate


def _request(leaf: x509.Certificate, issuer: x509.Certificate, *, serial: int | None = None,
             nonce: bytes | None = None) -> bytes:
    """An RFC 5019 request (SHA-1 CertID) for ``leaf``, or for another ``serial`` of its CA."""
    certid = cert_id(issuer, leaf.serial_number if serial is None else serial, hashes.SHA1())
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        certid.name_hash, certid.key_hash, certid.serial, certid.algorithm)
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(Encoding.DER)


def _http(front: OcspServer, method: str, path: str, body: bytes | None = None,
          headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type") or "", response.read()
    finally:
        conn.close()


def _post(front: OcspServer, der: bytes) -> ocsp.OCSPResponse:
    status, media, body = _http(front, "POST", "/ocsp", der, {"Content-Type": OCSP_REQUEST})
    assert status == 200 and media == "application/ocsp-response"
    return ocsp.load_der_ocsp_response(body)


def test_good_then_revoked_by_post_and_get_on_one_kept_alive_connection(
        services: Services, front: OcspServer, leaf: x509.Certificate) -> None:
    request = _request(leaf, _root(services))
    encoded = base64.b64encode(request).decode()
    conn = http.client.HTTPConnection("127.0.0.1", front.port, timeout=10)
    for _ in range(2):  # the second time from memory
        conn.request("POST", "/ocsp", body=request, headers={"Content-Type": OCSP_REQUEST})
        answer = ocsp.load_der_ocsp_response(conn.getresponse().read())
        assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
        assert answer.serial_number == leaf.serial_number
    for path in ("/ocsp/" + quote(encoded, safe=""), "/ocsp/" + encoded,
                 "/ocsp/" + quote(quote(encoded, safe=""), safe="")):  # encoded twice
        conn.request("GET", path)
        got = conn.getresponse()
        assert got.status == 200
        assert ocsp.load_der_ocsp_response(got.read()).certificate_status \
            is ocsp.OCSPCertStatus.GOOD
    conn.close()

    services.revocation.service.revoke(CertRef(_key_id(services), leaf.serial_number),
                                       Cause.BASIC_FOUR_CHANGED)
    for answer in (_post(front, request),
                   ocsp.load_der_ocsp_response(_http(front, "GET", "/ocsp/" + encoded)[2])):
        assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED  # the very next one
        assert answer.revocation_reason is x509.ReasonFlags.affiliation_changed


def _key_id(services: Services) -> str:
    return services.ca.current(CertKind.SIGNING).key_id


def test_a_nonce_is_echoed_and_a_never_issued_serial_is_unknown(
        services: Services, front: OcspServer, leaf: x509.Certificate) -> None:
    nonce = os.urandom(16)
    answer = _post(front, _request(leaf, _root(services), nonce=nonce))
    assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert answer.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == nonce
    unknown = _post(front, _request(leaf, _root(services), serial=leaf.serial_number + 1))
    assert unknown.certificate_status is ocsp.OCSPCertStatus.UNKNOWN


def test_bad_input_gets_malformed_request_or_a_4xx_never_a_500(
        services: Services, front: OcspServer, leaf: x509.Certificate) -> None:
    def status_of(body: bytes) -> ocsp.OCSPResponseStatus:
        return ocsp.load_der_ocsp_response(body).response_status

    malformed = ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    for body in (b"\x30\x03junk", b"x" * 20_000, b""):
        status, media, answer = _http(front, "POST", "/ocsp", body,
                                      {"Content-Type": OCSP_REQUEST})
        assert (status, media) == (200, "application/ocsp-response")
        assert status_of(answer) is malformed
    for path in ("/ocsp/not*base64", "/ocsp/" + base64.b64encode(b"\x30\x00").decode(),
                 "/ocsp/" + "A" * 40_000):
        status, _media, answer = _http(front, "GET", path)
        assert status == 200 and status_of(answer) is malformed

    for method, path, headers, code in (
            ("POST", "/ocsp", {"Content-Type": "text/plain"}, 415),
            ("GET", "/ocsp", {}, 405), ("DELETE", "/ocsp/abc", {}, 405),
            ("GET", "/counter/", {}, 404)):
        status, media, body = _http(front, method, path, b"x" if method == "POST" else None,
                                    headers)
        assert status == code and media == "application/problem+json"
        assert json.loads(body)["status"] == code
    assert _http(front, "GET", "/healthz") == (200, "text/plain; charset=utf-8", b"ok\n")
    # and the responder still answers after all that
    assert _post(front, _request(leaf, _root(services))).certificate_status \
        is ocsp.OCSPCertStatus.GOOD


def test_a_failing_responder_is_an_internal_error_answer(
        services: Services, front: OcspServer, leaf: x509.Certificate,
        monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_request: bytes) -> bytes:
        raise RuntimeError("database gone")

    monkeypatch.setattr(front.app.responder, "from_memory", broken)
    answer = _post(front, _request(leaf, _root(services)))
    assert answer.response_status is ocsp.OCSPResponseStatus.INTERNAL_ERROR


def test_the_revocation_reads_of_concurrent_requests_are_batched_and_exact() -> None:
    reads: list[list[tuple[str, int]]] = []
    revoked = {("k1", 3), ("k2", 8)}

    def read(certificates: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        reads.append(list(certificates))
        time.sleep(0.005)  # a database round trip: requests pile up meanwhile
        return revoked & set(certificates)

    asked = [(f"k{i % 3}", i % 10) for i in range(60)]

    async def ask_all() -> list[bool]:
        batcher = ProbeBatcher(read, pool)
        return await asyncio.gather(*(batcher.revoked(k, s) for k, s in asked))

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        answers = asyncio.run(ask_all())
    assert answers == [key in revoked for key in asked]
    assert 1 <= len(reads) < len(asked)  # batched, and every key was in some read
    assert sorted(k for batch in reads for k in batch) == sorted(asked)


def test_a_failed_batched_read_fails_every_request_waiting_for_it() -> None:
    def read(_certificates: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        raise OSError("database gone")

    async def ask() -> list[bool | BaseException]:
        batcher = ProbeBatcher(read, pool)
        return await asyncio.gather(batcher.revoked("k", 1), batcher.revoked("k", 2),
                                    return_exceptions=True)

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        assert all(isinstance(a, OSError) for a in asyncio.run(ask()))


def test_revoked_among_reads_the_revocation_table(services: Services,
                                                  leaf: x509.Certificate) -> None:
    key_id, serial = _key_id(services), leaf.serial_number
    asked = [(key_id, serial), (key_id, serial + 1), ("another-key", serial)]
    assert services.revocation.ocsp.revoked_among(asked) == set()
    services.revocation.service.revoke(CertRef(key_id, serial), Cause.BASIC_FOUR_CHANGED)
    assert services.revocation.ocsp.revoked_among(asked) == {(key_id, serial)}


def test_answers_are_counted_by_status(services: Services, front: OcspServer,
                                       leaf: x509.Certificate) -> None:
    _post(front, _request(leaf, _root(services)))
    _post(front, b"junk")
    encoded = base64.b64encode(_request(leaf, _root(services))).decode()
    assert _http(front, "GET", "/ocsp/" + encoded)[0] == 200
    assert front.app.counters is not None
    counted = front.app.counters.ocsp_responses()
    assert counted.get("good") == 2 and counted.get("malformed_request") == 1
    requests = front.app.counters.requests()
    assert requests[("POST", "ocsp_server", "200")] == 2
    assert requests[("GET", "ocsp_server", "200")] == 1


def test_a_port_in_use_fails_at_bind(services: Services, front: OcspServer) -> None:
    with pytest.raises(OSError):
        bind(services.revocation.ocsp, "127.0.0.1", front.port)


def test_jpki_ocsp_serve_answers_until_sigterm(services: Services, card_instance: Path,
                                                leaf: x509.Certificate) -> None:
    """``jpki ocsp serve --port 0`` as a process of its own, stopped as a service manager
    would; it sees the instance's certificates."""
    env = {**os.environ, "COLUMNS": "200"}  # the instance of ``card_instance``
    process = subprocess.Popen([str(Path(sys.executable).parent / "jpki"), "ocsp", "serve",
                                "--port", "0"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"OCSP responder on http://127\.0\.0\.1:(\d+)/ocsp", first)
        assert found, first + process.stdout.read()
        conn = http.client.HTTPConnection("127.0.0.1", int(found.group(1)), timeout=10)
        conn.request("POST", "/ocsp", body=_request(leaf, _root(services)),
                     headers={"Content-Type": OCSP_REQUEST})
        answer = ocsp.load_der_ocsp_response(conn.getresponse().read())
        conn.close()
        if answer.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            process.send_signal(signal.SIGTERM)
            raise AssertionError(process.stdout.read())
        assert answer.certificate_status is ocsp.OCSPCertStatus.GOOD
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    assert process.stdout.read().strip().endswith("stopped")


def test_certificates_name_the_configured_ocsp_url(
        monkeypatch: pytest.MonkeyPatch, jpki: Jpki, card_instance: Path,
        register: Register) -> None:
    """``ocsp_url`` set (the responder's own front): new certificates' AIA names it."""
    monkeypatch.setenv("JPKI_OCSP_URL", "http://ocsp.city.example:8001/ocsp")
    path, _ = enrol_card(jpki, card_instance, arrive(register), name="front.jcard")
    pem = card_instance / "front.pem"
    jpki("card", "read-cert", str(path), "--kind", "sign", "--pin-file",
         str(card_instance / "sign.pin"), "-o", str(pem))
    aia = x509.load_pem_x509_certificate(pem.read_bytes()).extensions.get_extension_for_class(
        x509.AuthorityInformationAccess).value
    assert [d.access_location.value for d in aia
            if d.access_method == x509.AuthorityInformationAccessOID.OCSP] == [
        "http://ocsp.city.example:8001/ocsp"]
