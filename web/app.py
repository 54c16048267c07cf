"""The application factory: one Flask app over one ``Services``, a blueprint per area.

Configuration comes in three layers. The domain settings (database, base URL, CA key store …)
are the instance's ``Settings`` (``jpki.toml`` then ``JPKI_*``, see ``web.config``). The web
layer's own few keys start from ``DEFAULTS``, then the instance file ``web.toml`` in the instance
folder, then ``JPKI_WEB_<KEY>`` environment variables; unknown keys are refused by name.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from pathlib import Path
from typing import Any

from flask import Flask, current_app

from pki.clock import Clock
from web.config import ConfigError, Settings, load_settings
from web.services import Services

WEB_CONFIG_FILE = "web.toml"
WEB_ENV_PREFIX = "JPKI_WEB_"
EXTENSION = "jpki"  # app.extensions key of the Services
DEFAULTS: dict[str, Any] = {
    # Issue 6: documents are bounded (default 10 MB); a larger body answers a 413 problem.
    "MAX_CONTENT_LENGTH": 10 * 1024 * 1024,
    # Multipart text fields (a CMS signature pasted as a field) share the same bound.
    "MAX_FORM_MEMORY_SIZE": 10 * 1024 * 1024,
    "MAX_FORM_PARTS": 16,
    "JSON_SORT_KEYS": False,
    # Browser sessions (counter and portal): signed cookie, HttpOnly, SameSite=Lax. Secure is
    # on unless the service is reached over plain http (a loopback demo), see ``_cookie_secure``.
    "SESSION_COOKIE_SECURE": "auto",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # An operator or resident session ends after this many idle minutes (counter screens).
    "SESSION_IDLE_MINUTES": 15,
    "WTF_CSRF_ENABLED": True,
    "WTF_CSRF_TIME_LIMIT": 3600,
}
SECRET_KEY_FILE = "web-secret.key"  # in the instance folder, 0600, made on first start


def create_app(settings: Settings | None = None, services: Services | None = None,
               clock: Clock | None = None, test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application.

    ``services`` is used as given (the caller closes it); otherwise one is built from
    ``settings`` (default: ``load_settings()``) and ``clock`` and lives as long as the app.
    ``test_config`` overrides the web configuration last.
    """
    from web import errors
    from web.blueprints import api, api_auth, counter, ops, portal, repository
    from web.cli import main
    from web.extensions import csrf

    if services is None:
        services = Services.build(settings or load_settings(), clock=clock)
    home = services.settings.home
    app = Flask("web", instance_path=str(home), instance_relative_config=True)
    app.config.from_mapping(web_config(home, dict(os.environ)))
    if test_config:
        app.config.update(test_config)
    app.config["JPKI_SETTINGS"] = services.settings
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = secret_key(home)
    app.config["SESSION_COOKIE_SECURE"] = _cookie_secure(app.config["SESSION_COOKIE_SECURE"],
                                                         services.settings.base_url)
    app.extensions[EXTENSION] = services
    errors.register(app)
    csrf.init_app(app)
    # Machine-to-machine endpoints carry no browser session: no CSRF token to check.
    csrf.exempt(repository.blueprint)
    csrf.exempt(api.blueprint)
    csrf.exempt(ops.blueprint)
    csrf.exempt(api_auth.blueprint)
    app.register_blueprint(repository.blueprint)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(api_auth.blueprint)
    app.register_blueprint(counter.blueprint)
    app.register_blueprint(portal.blueprint)
    app.register_blueprint(ops.blueprint)
    for name, command in main.commands.items():
        app.cli.add_command(command, name)
    return app


def web_config(home: Path, environ: dict[str, str]) -> dict[str, Any]:
    """``DEFAULTS`` ← ``HOME/web.toml`` ← ``JPKI_WEB_*``; values keep the defaults' types."""
    values = dict(DEFAULTS)
    path = home / WEB_CONFIG_FILE
    if path.is_file():
        try:
            from_file = tomllib.loads(path.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        for key, value in from_file.items():
            values[_checked(key.upper(), value, str(path))] = value
    for name, raw in environ.items():
        if name.startswith(WEB_ENV_PREFIX):
            key = name.removeprefix(WEB_ENV_PREFIX)
            value = _parse(key, raw, name)
            values[_checked(key, value, name)] = value
    return values


def secret_key(home: Path) -> bytes:
    """The key that signs session cookies: ``HOME/web-secret.key``, made once (0600)."""
    path = home / SECRET_KEY_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "wb") as out:
                out.write(secrets.token_bytes(32))
    key = path.read_bytes()
    if len(key) < 32:
        raise ConfigError(f"{path}: a session key of at least 32 bytes is expected")
    return key


def _cookie_secure(value: object, base_url: str) -> bool:
    """``auto``: Secure cookies whenever the service's base URL is https; else a yes/no."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text == "auto":
        return base_url.lower().startswith("https:")
    if text in ("1", "true", "yes", "0", "false", "no"):
        return text in ("1", "true", "yes")
    raise ConfigError(f"SESSION_COOKIE_SECURE must be auto, true or false, not {value!r}")


def _checked(key: str, value: Any, where: str) -> str:
    if key not in DEFAULTS:
        raise ConfigError(f"{where}: unknown key {key!r} (known: {', '.join(DEFAULTS)})")
    expected = type(DEFAULTS[key])
    if not isinstance(value, expected) or (expected is int and value <= 0):
        raise ConfigError(f"{where}: {key} must be a positive {expected.__name__}")
    return key


def _parse(key: str, raw: str, where: str) -> Any:
    expected = type(DEFAULTS.get(key, ""))
    if expected is bool:
        return raw.strip().lower() in ("1", "true", "yes")
    if expected is int:
        if not raw.strip().isdigit():
            raise ConfigError(f"{where}: {key} must be a positive int")
        return int(raw)
    return raw


def services() -> Services:
    """The ``Services`` of the application handling the current request."""
    found = current_app.extensions[EXTENSION]
    assert isinstance(found, Services)
    return found
