"""Operations: the supervisors' dashboard, /healthz and /metrics."""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import workers
from jukibridge.register import Register
from pki.clock import FrozenClock
from tests.storage.conftest import Jpki, enrol_card
from tests.storage.helpers import arrive
from tests.web.conftest import login

SVG = "{http://www.w3.org/2000/svg}"
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(rf"^({_NAME})(\{{(?:{_LABEL}(?:,{_LABEL})*)?\}})? (\S+)$")
COMMENT = re.compile(rf"^# (HELP {_NAME} .*|TYPE {_NAME} (counter|gauge|histogram|summary|"
                     r"untyped))$")


def parse_metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """The samples of a text exposition (0.0.4), asserting that every line is well-formed."""
    assert text.endswith("\n")
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    typed: set[str] = set()
    for line in text.splitlines():
        if line.startswith("#"):
            found = COMMENT.match(line)
            assert found, f"bad comment line: {line!r}"
            if line.startswith("# TYPE "):
                typed.add(line.split()[2])
            continue
        found = SAMPLE.match(line)
        assert found, f"bad sample line: {line!r}"
        name, labels, value = found.groups()
        assert name in typed, f"{name} has no TYPE line before its samples"
        pairs = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', labels or ""))
        samples.setdefault(name, []).append((pairs, float(value)))
    return samples


def value(samples: dict[str, list[tuple[dict[str, str], float]]], name: str,
          **labels: str) -> float:
    return sum(v for found, v in samples.get(name, []) if labels.items() <= found.items())


def svg_of(page: str, element_id: str) -> ET.Element:
    """The inline SVG with ``element_id``, parsed as XML (so it must be well-formed)."""
    found = re.search(rf'<svg\b[^>]*\bid="{element_id}".*?</svg>', page, re.S)
    assert found, f"no <svg id={element_id}>"
    return ET.fromstring(found.group(0))


# -- dashboard -----------------------------------------------------------------------------------


def test_the_dashboard_is_refused_to_a_clerk(client: FlaskClient) -> None:
    login(client, "clerk")
    response = client.get("/counter/dashboard")
    assert response.status_code == 403 and response.mimetype == "text/html"
    assert "権限" in response.get_data(as_text=True)


def test_the_dashboard_needs_a_login(client: FlaskClient) -> None:
    response = client.get("/counter/dashboard")
    assert response.status_code == 302 and "/counter/login" in response.headers["Location"]


def test_a_supervisor_sees_every_panel_and_a_well_formed_chart(client: FlaskClient) -> None:
    login(client, "chief")
    response = client.get("/counter/dashboard")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for element_id in ("tier-lag", "revocations-chart", "crl-partitions", "ocsp-served"):
        assert f'id="{element_id}"' in page
    assert 'src="http' not in page and 'href="http' not in page  # nothing from elsewhere
    chart = svg_of(page, "revocations-chart")
    assert chart.tag == SVG + "svg" and chart.get("class") == "chart"
    bars = chart.findall(f"{SVG}g[@class='bar']")
    assert len(bars) == 14 and all(bar.get("data-count") == "0" for bar in bars)
    assert bars[-1].get("data-day") == "2026-04-01"  # today in JST on the test clock


# -- the day's figures: a card, OCSP requests, a revocation ---------------------------------------


def _ocsp_request(certificate: x509.Certificate, issuer: x509.Certificate) -> bytes:
    return (ocsp.OCSPRequestBuilder().add_certificate(certificate, issuer, hashes.SHA1())
            .build().public_bytes(Encoding.DER))


def test_ocsp_responses_and_a_revocation_show_in_metrics_and_on_the_dashboard(
        client: FlaskClient, jpki: Jpki, card_instance: Path, register: Register) -> None:
    path, _ = enrol_card(jpki, card_instance, arrive(register))
    pem = card_instance / "sign.pem"
    jpki("card", "read-cert", str(path), "--kind", "sign", "--pin-file",
         str(card_instance / "sign.pin"), "-o", str(pem))
    certificate = x509.load_pem_x509_certificate(pem.read_bytes())
    root = x509.load_der_x509_certificate(client.get("/ca/sign-1.cer").data)
    request = _ocsp_request(certificate, root)

    def ask() -> None:
        answer = client.post("/ocsp", data=request, content_type="application/ocsp-request")
        assert answer.status_code == 200

    ask()
    ask()
    client.post("/ocsp", data=b"\x30\x03junk", content_type="application/ocsp-request")
    jpki("revoke", str(certificate.serial_number), "--operator", "clerk")
    jpki("revocation", "run")  # re-issues the partition's CRL
    ask()

    samples = parse_metrics(client.get("/metrics").get_data(as_text=True))
    assert value(samples, "jpki_ocsp_responses_total", status="good") == 2
    assert value(samples, "jpki_ocsp_responses_total", status="revoked") == 1
    assert value(samples, "jpki_ocsp_responses_total", status="malformed_request") == 1
    assert value(samples, "jpki_revocations_total") == 1
    assert value(samples, "jpki_http_requests_total", method="POST",
                 endpoint="repository.ocsp_post", status="200") == 4
    crl = dict(((labels["ca"], labels["partition"]), v)
               for labels, v in samples["jpki_crl_next_update_seconds"])
    assert crl[("sign-1", "112089")] == timedelta(hours=24).total_seconds()  # frozen clock

    login(client, "chief")
    page = client.get("/counter/dashboard").get_data(as_text=True)
    today = svg_of(page, "revocations-chart").findall(f"{SVG}g[@class='bar']")[-1]
    assert today.get("data-count") == "1"
    assert 'data-ca="sign-1" data-partition="112089"' in page
    served = re.search(r'id="ocsp-served" data-total="(\d+)"', page)
    assert served and served.group(1) == "4"


# -- /healthz ------------------------------------------------------------------------------------


def test_healthz_is_ok_on_a_healthy_instance(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["status"] == "ok"
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "database": "ok", "ca_keys": "ok", "tier_lag": "ok"}


def test_healthz_is_degraded_while_an_event_waits_too_long(
        client: FlaskClient, register: Register, clock: FrozenClock,
        sessions: sessionmaker[Session]) -> None:
    arrive(register)  # an identity event waits in 所沢市's CS outbox
    assert client.get("/healthz").status_code == 200
    clock.advance(timedelta(minutes=2))
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "degraded" and body["checks"]["tier_lag"]["status"] == "fail"
    assert body["checks"]["tier_lag"]["oldest_pending_seconds"] == 120
    samples = parse_metrics(client.get("/metrics").get_data(as_text=True))
    assert value(samples, "jpki_tier_events_pending", tier="cs:112089") == 1
    assert value(samples, "jpki_tier_oldest_pending_seconds", tier="cs:112089") == 120
    workers.drain(sessions, clock)
    assert client.get("/healthz").status_code == 200


def test_healthz_is_degraded_without_the_ca_keys(client: FlaskClient,
                                                  card_instance: Path) -> None:
    shutil.rmtree(card_instance / "instance" / "ca-keys")
    response = client.get("/healthz")
    assert response.status_code == 503
    checks = response.get_json()["checks"]
    assert checks["ca_keys"]["status"] == "fail" and checks["database"]["status"] == "ok"


# -- /metrics ------------------------------------------------------------------------------------


def test_metrics_are_the_prometheus_text_format_and_count_requests(
        client: FlaskClient, app: Flask) -> None:
    client.get("/counter/login")
    client.get("/counter/login")
    client.get("/no/such/page")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    samples = parse_metrics(response.get_data(as_text=True))
    assert value(samples, "jpki_http_requests_total", endpoint="counter.login",
                 status="200") == 2
    assert value(samples, "jpki_http_requests_total", endpoint="none", status="404") == 1
    for name in ("jpki_ocsp_responses_total", "jpki_tier_events_pending",
                 "jpki_tier_oldest_pending_seconds", "jpki_revocations_total",
                 "jpki_crl_next_update_seconds"):
        assert f"# TYPE {name} " in response.get_data(as_text=True)
    other = app.test_client().get("/metrics").get_data(as_text=True)
    assert 'status="404"' in other  # one set of counters per application, shared by clients
