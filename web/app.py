"""The application factory: one Flask app over one ``Services``, a blueprint per area.

Configuration comes in three layers. The domain settings (database, base URL, CA key store …)
are the instance's ``Settings`` (``jpki.toml`` then ``JPKI_*``, see ``web.config``). The web
layer's own few keys start from ``DEFAULTS``, then the instance file ``web.toml`` in the instance
folder, then ``JPKI_WEB_<KEY>`` environment variables; unknown keys are refused by name.
"""

from __future__ import annotations

import os
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
}


def create_app(settings: Settings | None = None, services: Services | None = None,
               clock: Clock | None = None, test_config: dict[str, Any] | None = None) -> Flask:
    """Build the application.

    ``services`` is used as given (the caller closes it); otherwise one is built from
    ``settings`` (default: ``load_settings()``) and ``clock`` and lives as long as the app.
    ``test_config`` overrides the web configuration last.
    """
    from web import errors
    from web.blueprints import api, repository
    from web.cli import main

    if services is None:
        services = Services.build(settings or load_settings(), clock=clock)
    home = services.settings.home
    app = Flask("web", instance_path=str(home), instance_relative_config=True)
    app.config.from_mapping(web_config(home, dict(os.environ)))
    if test_config:
        app.config.update(test_config)
    app.config["JPKI_SETTINGS"] = services.settings
    app.extensions[EXTENSION] = services
    errors.register(app)
    app.register_blueprint(repository.blueprint)
    app.register_blueprint(api.blueprint)
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
