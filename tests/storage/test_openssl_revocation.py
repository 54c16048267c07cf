"""Interop: `openssl ocsp -url` and `openssl verify -crl_check` against the running server.

The server is what `jpki serve --ocsp-port` runs (waitress, the OCSP responder's own front,
and the tier and revocation workers as threads); a relocation committed at the counter turns
`good` into `revoked` for openssl, at both OCSP URLs.
"""

from __future__ import annotations

import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from jukibridge.change_requests import Relocation
from jukibridge.register import Register
from pki.clock import FrozenClock
from tests.debian import tool
from tests.storage.conftest import Jpki, enrol_card
from tests.storage.helpers import arrive
from web.config import load_settings
from web.server import Running, start
from web.services import Services

WAIT = 20.0  # seconds the workers get to carry a change to the responder


@pytest.fixture(scope="module")
def openssl() -> str:
    """The openssl binary (installed with apt-get when missing)."""
    return tool("openssl")


@pytest.fixture
def server(card_instance: Path, clock: FrozenClock) -> Iterator[Running]:
    services = Services.build(load_settings(), clock=clock)
    running = start(services, "127.0.0.1", 0, ocsp_port=0)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.stop()
    thread.join(5)
    services.close()


def _pem(path: Path, certificate: x509.Certificate) -> str:
    path.write_bytes(certificate.public_bytes(Encoding.PEM))
    return str(path)


def _ocsp(openssl: str, url: str, root: str, leaf: str, at: int) -> str:
    result = subprocess.run(
        [openssl, "ocsp", "-issuer", root, "-cert", leaf, "-url", url,
         "-CAfile", root, "-attime", str(at), "-validity_period", "100000000"],
        capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Response verify OK" in result.stderr + result.stdout
    return result.stdout


def _crl_check(openssl: str, url: str, folder: Path, root: str, leaf: str,
               certificate: x509.Certificate, at: int) -> subprocess.CompletedProcess[str]:
    points = certificate.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    path = "/" + points[0].full_name[0].value.split("/", 3)[3]
    with urllib.request.urlopen(url + path, timeout=10) as response:
        crl = x509.load_der_x509_crl(response.read())
    (folder / "crl.pem").write_bytes(crl.public_bytes(Encoding.PEM))
    return subprocess.run(
        [openssl, "verify", "-crl_check", "-attime", str(at), "-CAfile", root,
         "-CRLfile", str(folder / "crl.pem"), leaf], capture_output=True, text=True, timeout=30)


def test_openssl_sees_good_then_revoked_after_a_relocation(
        openssl: str, server: Running, jpki: Jpki, card_instance: Path, register: Register,
        clock: FrozenClock) -> None:
    code = arrive(register)
    card, _ = enrol_card(jpki, card_instance, code)
    leaf_path = card_instance / "sign.pem"
    jpki("card", "read-cert", str(card), "--kind", "sign", "--pin-file",
         str(card_instance / "sign.pin"), "-o", str(leaf_path))
    leaf = x509.load_pem_x509_certificate(leaf_path.read_bytes())
    with urllib.request.urlopen(f"{server.url}/ca/sign-1.cer", timeout=10) as response:
        root = _pem(card_instance / "root.pem", x509.load_der_x509_certificate(response.read()))
    at = int(clock.now().timestamp()) + 60
    assert server.ocsp is not None
    responders = (f"{server.url}/ocsp", server.ocsp.url)
    for url in responders:
        assert f"{leaf_path}: good" in _ocsp(openssl, url, root, str(leaf_path), at)
    checked = _crl_check(openssl, server.url, card_instance, root, str(leaf_path), leaf, at)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    register.perform("clerk", Relocation(resident_codes=[code], address="東町5番8号"))
    deadline = time.monotonic() + WAIT
    for url in responders:
        while "revoked" not in (answer := _ocsp(openssl, url, root, str(leaf_path), at)):
            assert time.monotonic() < deadline, answer
            time.sleep(0.2)
        assert "Reason: affiliationChanged" in answer
    rejected = _crl_check(openssl, server.url, card_instance, root, str(leaf_path), leaf, at)
    assert rejected.returncode != 0 and "revoked" in rejected.stdout + rejected.stderr
