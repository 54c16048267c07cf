"""`jpki ocsp publish DIR`: pre-signed OCSP responses served by a plain static HTTP server.

The folder is served with Python's ``http.server`` on 127.0.0.1 and queried the way an RFC 5019
client does: ``openssl ocsp -reqout`` builds the request (openssl 3.0 only POSTs), the GET URL
is ``<base>/ocsp/<url-encoded base64 of it>``, and ``openssl ocsp -respin`` checks the response
(signature, responder certificate, status) as it checks one it fetched itself.
"""

from __future__ import annotations

import base64
import functools
import json
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from jukibridge.change_requests import Relocation
from jukibridge.register import Register
from pki.clock import FrozenClock
from pki.profile import CertKind
from revocation.ocsp_publish import DIRECTORY_INDEX, OCSP_FOLDER, file_path, get_path
from tests.debian import tool
from tests.storage.conftest import Jpki, enrol_card
from tests.storage.helpers import arrive
from web.config import load_settings
from web.services import Services


@pytest.fixture(scope="module")
def openssl() -> str:
    """The openssl binary (installed with apt-get when missing)."""
    return tool("openssl")


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def static(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served by a plain static server on 127.0.0.1: (folder, base URL)."""
    folder = tmp_path / "static"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(5)


def _fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def _get_ocsp(openssl: str, base: str, folder: Path, root: Path, leaf: Path,
              at: int) -> tuple[int, str]:
    """Build the request with openssl, GET it from the static server, let openssl check the
    answer; (HTTP status, openssl's report)."""
    request, response = folder / "req.der", folder / "resp.der"
    built = subprocess.run([openssl, "ocsp", "-issuer", str(root), "-cert", str(leaf),
                            "-no_nonce", "-reqout", str(request)],
                           capture_output=True, text=True, timeout=30)
    assert built.returncode == 0, built.stderr
    status, body = _fetch(f"{base}/ocsp/{get_path(request.read_bytes())}")
    if status != 200:
        return status, ""
    response.write_bytes(body)
    checked = subprocess.run(
        [openssl, "ocsp", "-respin", str(response), "-issuer", str(root), "-cert", str(leaf),
         "-CAfile", str(root), "-no_nonce", "-attime", str(at),
         "-validity_period", "100000000"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Response verify OK" in checked.stdout + checked.stderr
    return status, checked.stdout


def _published(folder: Path) -> set[str]:
    root = folder / OCSP_FOLDER
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def test_paths_follow_what_a_static_server_decodes(static: tuple[Path, str]) -> None:
    """"/" makes directories, "//" counts as one, a trailing "/" is the directory's index."""
    folder, base = static
    nested = base64.b64decode("MAb/+x/Q9w==")
    trailing = base64.b64decode("MAb//+x/")
    assert file_path(nested).as_posix() == "MAb/+x/Q9w=="
    assert file_path(trailing).as_posix() == f"MAb/+x/{DIRECTORY_INDEX}"
    assert get_path(nested) == "MAb%2F%2Bx%2FQ9w%3D%3D"
    for der, body in ((nested, b"nested"), (trailing, b"trailing")):
        target = folder / OCSP_FOLDER / file_path(der)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        assert _fetch(f"{base}/ocsp/{get_path(der)}") == (200, body)  # %2F-encoded
        raw = quote(base64.b64encode(der).decode(), safe="/")  # "/" left as it is
        assert _fetch(f"{base}/ocsp/{raw}") == (200, body)


def test_a_static_server_answers_good_then_revoked_and_drops_expired_files(
        openssl: str, static: tuple[Path, str], jpki: Jpki, card_instance: Path,
        register: Register, clock: FrozenClock) -> None:
    folder, base = static
    code = arrive(register)
    card, _ = enrol_card(jpki, card_instance, code)
    leaf = card_instance / "sign.pem"
    jpki("card", "read-cert", str(card), "--kind", "sign", "--pin-file",
         str(card_instance / "sign.pin"), "-o", str(leaf))
    services = Services.build(load_settings(), clock=clock)
    try:
        root_certificate = services.ca.current(CertKind.SIGNING).certificate
    finally:
        services.close()
    root = card_instance / "root.pem"
    root.write_bytes(root_certificate.public_bytes(Encoding.PEM))
    at = int(clock.now().timestamp()) + 60

    first = jpki("ocsp", "publish", str(folder)).output
    files = _published(folder)
    index = json.loads((folder / "index.json").read_text("utf-8"))
    assert index["count"] == len(files) >= 3  # both leaves, the responder certificates
    assert f"{index['count']} OCSP responses published ({len(files)} written" in first
    assert index["generated_at"] == "2026-04-01T01:00:00Z"
    assert index["next_update"] == "2026-04-02T01:00:00Z"  # 24 hours, the default validity
    status, report = _get_ocsp(openssl, base, folder, root, leaf, at)
    assert status == 200 and f"{leaf}: good" in report

    (folder / OCSP_FOLDER / ".tmp-crashed").write_bytes(b"left by a killed run")
    (folder / OCSP_FOLDER / "README.txt").write_text("not ours")
    again = jpki("ocsp", "publish", str(folder)).output
    assert f"0 written, {len(files)} unchanged, 1 removed" in again
    assert (folder / OCSP_FOLDER / "README.txt").exists()  # never a file it did not write

    register.perform("clerk", Relocation(resident_codes=[code], address="東町5番8号"))
    jpki("tiers", "drain")
    jpki("revocation", "run")
    assert "1 written" in jpki("ocsp", "publish", str(folder)).output
    assert _published(folder) == files | {"README.txt"}
    status, report = _get_ocsp(openssl, base, folder, root, leaf, at)
    assert status == 200 and f"{leaf}: revoked" in report
    assert "Reason: affiliationChanged" in report

    certificate = x509.load_pem_x509_certificate(leaf.read_bytes())
    clock.set(certificate.not_valid_after_utc + timedelta(days=1))
    later = jpki("ocsp", "publish", str(folder)).output
    assert "removed" in later and " 0 removed" not in later
    leaf_file = str(file_path((folder / "req.der").read_bytes()))
    remaining = _published(folder)
    assert leaf_file in files and leaf_file not in remaining
    status, _ = _get_ocsp(openssl, base, folder, root, leaf, at)
    assert status == 404
    assert not [p for p in (folder / OCSP_FOLDER).rglob("*") if p.is_dir() and not any(
        p.iterdir())]  # no empty directory left behind
