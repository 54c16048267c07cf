"""Resident sessions on the portal: log in after a verified card login, idle timeout, log out.

The session cookie (signed, HttpOnly) holds only the resident code, the login certificate's
reference and the time of the last request, under keys of their own, so a counter session in
the same browser is left alone. Every portal screen re-checks the login certificate in the
revocation service: a certificate revoked, put on hold or expired since the login ends the
session at the next request.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import flash, g, redirect, session, url_for
from flask.typing import ResponseReturnValue

from jukibridge.errors import PermissionDenied
from web.app import services
from web.blueprints.idle import idle_too_long
from web.blueprints.portal import blueprint
from web.portal_login import LoggedIn, audit_portal, still_good

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])

RESIDENT_KEY = "portal_resident"
CERTIFICATE_KEY = "portal_certificate"
SEEN_KEY = "portal_seen"
BROWSER_KEY = "portal_browser"
KEYS = (RESIDENT_KEY, CERTIFICATE_KEY, SEEN_KEY)


@dataclass(frozen=True)
class PortalResident:
    """The resident of the current request, as their login certificate says."""

    resident_code: str
    certificate: str  # "<generation>:<serial>" of the login certificate
    issuer_key_id: str
    serial: int
    card_id: str | None
    municipality_code: str | None


def browser_token() -> str:
    """A random token naming this browser session (login codes are tied to it)."""
    token = session.get(BROWSER_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(16)
        session[BROWSER_KEY] = token
    return token


def log_in(done: LoggedIn) -> None:
    """Make this browser session the resident's."""
    for key in KEYS:
        session.pop(key, None)
    session[BROWSER_KEY] = secrets.token_urlsafe(16)  # a new token: earlier codes are dead
    session[RESIDENT_KEY] = done.resident_code
    session[CERTIFICATE_KEY] = [done.certificate, done.issuer_key_id, str(done.serial),
                                done.card_id or "", done.municipality_code or ""]
    session[SEEN_KEY] = services().clock.now().isoformat()
    session.permanent = False


def _stored() -> PortalResident | None:
    code = session.get(RESIDENT_KEY)
    cert = session.get(CERTIFICATE_KEY)
    if not isinstance(code, str) or not isinstance(cert, list) or len(cert) != 5:
        return None
    name, key_id, serial, card_id, municipality = (str(item) for item in cert)
    if not serial.isdigit():
        return None
    return PortalResident(code, name, key_id, int(serial), card_id or None, municipality or None)


def log_out(reason: str) -> None:
    """End the resident's session (audited with ``reason``: logout, idle, certificate)."""
    resident = _stored()
    for key in (*KEYS, BROWSER_KEY):
        session.pop(key, None)
    if resident is not None:
        audit_portal(services(), "portal.logout", card_id=resident.card_id,
                     municipality_code=resident.municipality_code,
                     details={"certificate": resident.certificate, "reason": reason})


def current_resident() -> PortalResident:
    """The logged-in resident (only inside a view guarded by ``resident_required``)."""
    found = g.get("portal_resident")
    if not isinstance(found, PortalResident):
        raise PermissionDenied("not logged in to the portal")
    return found


def resident_required(view: F) -> F:
    """Guard a portal view: a live session (not idle too long) whose login certificate is
    still good and unexpired; otherwise back to the login page."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
        resident = _stored()
        if resident is None:
            return redirect(url_for("portal.login"))
        built = services()
        now = built.clock.now()
        if idle_too_long(session.get(SEEN_KEY), now):
            log_out("idle")
            flash("一定時間操作がなかったため、ログアウトしました。"
                  "もう一度ログインしてください。", "error")
            return redirect(url_for("portal.login"))
        if not still_good(built, resident.issuer_key_id, resident.serial):
            log_out("certificate")
            flash("ログインに使った利用者証明用電子証明書が有効でなくなったため、"
                  "ログアウトしました。", "error")
            return redirect(url_for("portal.login"))
        session[SEEN_KEY] = now.isoformat()
        g.portal_resident = resident
        return view(*args, **kwargs)

    return cast(F, guarded)


def logged_in() -> bool:
    return _stored() is not None


@blueprint.post("/logout")
def logout() -> ResponseReturnValue:
    """ログアウト."""
    log_out("logout")
    flash("ログアウトしました。", "info")
    return redirect(url_for("portal.home"))


@blueprint.app_context_processor
def _inject_resident() -> dict[str, object]:
    return {"portal_resident": g.get("portal_resident"), "portal_logged_in": logged_in()}
