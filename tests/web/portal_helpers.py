"""Helpers of the portal tests: a card holder, the login code of a page, the card login."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from jukibridge.register import Register
from tests.storage.conftest import Jpki, enrol_card
from tests.storage.helpers import arrive
from tests.web.conftest import csrf_token

_CODE = re.compile(r'id="login-code"[^>]*>([A-Z0-9]+)<')


@dataclass(frozen=True)
class Holder:
    """A resident with an enrolled card; the PIN files are in ``folder``."""

    resident_code: str
    card: Path
    card_id: str
    folder: Path
    auth: x509.Certificate
    signing: x509.Certificate

    @property
    def pin_file(self) -> Path:
        return self.folder / "auth.pin"


def enrolled(jpki: Jpki, folder: Path, register: Register, name: str = "card.jcard",
             **resident: object) -> Holder:
    """A new resident (``arrive``) with a card and both certificates read back."""
    code = arrive(register, **resident)  # type: ignore[arg-type]
    card, output = enrol_card(jpki, folder, code, name=name)
    card_id = re.search(r"card (\w+) written", output)
    assert card_id, output
    auth_pem, sign_pem = folder / f"{name}.auth.pem", folder / f"{name}.sign.pem"
    jpki("card", "read-cert", str(card), "--kind", "auth", "-o", str(auth_pem))
    jpki("card", "read-cert", str(card), "--kind", "sign", "--pin-file",
         str(folder / "sign.pin"), "-o", str(sign_pem))
    return Holder(code, card, card_id.group(1), folder,
                  x509.load_pem_x509_certificate(auth_pem.read_bytes()),
                  x509.load_pem_x509_certificate(sign_pem.read_bytes()))


def login_code(page: TestResponse | str) -> str:
    text = page if isinstance(page, str) else page.get_data(as_text=True)
    found = _CODE.search(text)
    assert found, "the login page shows no code"
    return found.group(1)


def signed_challenge(jpki: Jpki, holder: Holder, code: str, *, pin_file: Path | None = None,
                     url: str | None = None) -> dict[str, str]:
    """``jpki login --out``: the signed challenge as the CLI writes it."""
    out = holder.folder / f"signed-{code}.json"
    args = ["login", "--card", str(holder.card), "--code", code,
            "--pin-file", str(pin_file or holder.pin_file), "--out", str(out)]
    if url:
        args += ["--url", url]
    jpki(*args)
    loaded = json.loads(out.read_text("utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def upload(client: FlaskClient, page: TestResponse, signed: dict[str, str]) -> TestResponse:
    """Send a signed challenge file through the login page's upload form."""
    body = json.dumps(signed).encode()
    return client.post("/portal/login", data={
        "csrf_token": csrf_token(page),
        "signed_challenge": (io.BytesIO(body), "signed.json")},
        content_type="multipart/form-data")


def portal_login(client: FlaskClient, jpki: Jpki, holder: Holder) -> None:
    """Log ``holder`` in through the upload; asserts success."""
    page = client.get("/portal/login")
    response = upload(client, page, signed_challenge(jpki, holder, login_code(page)))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/portal/me"
