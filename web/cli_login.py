"""``jpki login``: log in with the card (the card holder's side of the challenge–response).

The card's authentication key signs the challenge message that binds a code to the service's
origin (``web.portal_login``), through the card's APDUs after the auth PIN (prompted, or read
from ``--pin-file``; never taken from the command line nor printed).

- ``--code CODE`` (the portal): the code shown in the browser; the signed challenge is posted
  to ``BASE_URL/portal/login/response`` (the browser then logs in), or written to a file for the
  login page's upload with ``--out``.
- no code (the API, ``/api/v1/auth``): the command asks the service for a challenge, signs it
  and opens a session; it prints the session token for the client to use as a bearer token.
"""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request
from pathlib import Path

import click

from pki.card import Card
from web import secrets
from web.cli import console, read_secret, with_services
from web.portal_login import (
    LoginRefused,
    SignedChallenge,
    challenge_message,
    normalise_code,
    origin_of,
)
from web.services import Services

TIMEOUT = 30  # seconds for the server's answer
CARD = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("login")
@click.option("--card", "card_path", type=CARD, required=True, help="The card image.")
@click.option("--code", default=None,
              help="The code shown on the portal's login page (without it: an API session).")
@click.option("--url", default=None,
              help="The service's address (default: the instance's base_url).")
@click.option("--pin-file", type=CARD, default=None,
              help="File holding the authentication PIN (else it is asked for).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the signed challenge to this file (to upload on the login page) "
                   "instead of sending it.")
@with_services
def login(services: Services, card_path: Path, code: str, url: str | None,
          pin_file: Path | None, out: Path | None) -> None:
    """Sign the portal's login code with the card's authentication key."""
    base = (url or services.settings.base_url).rstrip("/")
    api = code is None
    if api and out is not None:
        raise click.ClickException("--out needs the --code shown on the portal's login page")
    try:
        origin = origin_of(base)
        if code is None:
            issued = _post(f"{base}/api/v1/auth/challenge", b"{}")
            code, origin = str(issued.get("challenge", "")), str(issued.get("origin", origin))
        code = normalise_code(code)
    except LoginRefused as exc:
        raise click.ClickException(exc.detail) from None
    message = challenge_message(code, origin)
    with Card.open(card_path, secrets.card_seal_key(services.settings)) as card:
        certificate = card.read_certificate("auth")
        pin = read_secret("Authentication PIN (4 digits)", pin_file)
        signature = card.sign("auth", hashlib.sha256(message).digest(), pin)
    signed = SignedChallenge(code=code, certificate=certificate, signature=signature,
                             origin=origin)
    body = json.dumps(signed.to_json()).encode("ascii")
    if out is not None:
        out.write_bytes(body + b"\n")
        console.print(f"signed challenge written to {out}: upload it on the login page")
        return
    if api:
        opened = _post(f"{base}/api/v1/auth/response", body)
        held = opened.get("certificate")
        named = (f"{held.get('issuer')}:{held.get('serial')}" if isinstance(held, dict)
                 else "?")
        console.print(f"session opened for certificate {named} "
                      f"(ends after {opened.get('expires_in')} s idle)")
        console.print(f"session: {opened.get('session')}")
        return
    answer = _post(f"{base}/portal/login/response", body)
    console.print(str(answer.get("message") or "verified"))
    console.print("logged in: the browser that shows this code continues by itself")


def _post(url: str, body: bytes) -> dict[str, object]:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return _object(response.read())
    except urllib.error.HTTPError as exc:
        problem = _object(exc.read())
        detail = problem.get("detail") or problem.get("title") or exc.reason
        raise click.ClickException(f"login refused ({exc.code}): {detail}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise click.ClickException(f"cannot reach {url}: {reason}") from None


def _object(data: bytes) -> dict[str, object]:
    try:
        found = json.loads(data)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def attach(main: click.Group) -> None:
    main.add_command(login)
