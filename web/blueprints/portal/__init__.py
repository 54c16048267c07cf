"""The portal (/portal): residents check certificates and log in with their card."""

from __future__ import annotations

from flask import Blueprint, render_template_string
from flask.typing import ResponseReturnValue

blueprint = Blueprint("portal", __name__, url_prefix="/portal")


@blueprint.get("/")
def home() -> ResponseReturnValue:
    """The portal's front page (placeholder until the portal screens land)."""
    return render_template_string(
        '{% extends "base.html" %}{% block body_class %}portal{% endblock %}'
        '{% block title %}利用者ポータル{% endblock %}'
        '{% block content %}<h1>利用者ポータル</h1>{% endblock %}')
