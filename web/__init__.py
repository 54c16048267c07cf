"""Composition root and the only Flask code (DESIGN.md §2).

``create_app()`` builds the application; ``flask --app web`` reaches the same commands as
``jpki``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Application factory (see ``web.app``): ``flask --app web`` calls it without arguments."""
    from web.app import create_app as build
    from web.config import load_settings

    settings = load_settings(test_config.get("home") if test_config else None)
    return build(settings=settings, test_config=test_config)
