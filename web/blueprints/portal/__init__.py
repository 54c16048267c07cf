"""The portal (/portal): residents check certificates and log in with their card.

One blueprint, one module per concept: ``session`` (resident sessions, idle timeout, logout),
``checks`` (certificate self-check), ``login`` (card login by challenge–response, see
``web.portal_login``) and ``account`` (the resident's certificates, provision history and
consent). Screens are plain Japanese for residents.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

blueprint = Blueprint("portal", __name__, url_prefix="/portal")


@blueprint.get("/")
def home() -> ResponseReturnValue:
    """利用者ポータルのトップ."""
    return render_template("portal/home.html")


# The modules attach their routes to ``blueprint`` when imported.
from web.blueprints.portal import account, checks, login, session  # noqa: E402

__all__ = ["account", "blueprint", "checks", "login", "session"]
