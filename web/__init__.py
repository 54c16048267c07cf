"""Composition root and the only Flask code (DESIGN.md §2).

``create_app()`` builds the application; ``flask --app web`` reaches the same commands as
``jpki``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Application factory: config from defaults → instance file → environment."""
    from web.cli import main
    from web.config import load_settings

    app = Flask(__name__)
    settings = load_settings(test_config.get("home") if test_config else None)
    app.config.from_mapping(JPKI_SETTINGS=settings)
    if test_config:
        app.config.update(test_config)
    for name, command in main.commands.items():
        app.cli.add_command(command, name)
    return app
