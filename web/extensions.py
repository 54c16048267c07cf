"""Flask extensions, created unbound here and bound to each app by ``create_app()``."""

from __future__ import annotations

from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
