"""Counter screens: finding a resident, the record, household and history (to be built)."""

from __future__ import annotations

from flask import render_template_string
from flask.typing import ResponseReturnValue

from web.blueprints.counter import blueprint
from web.blueprints.counter.session import operator_required


@blueprint.get("/")
@operator_required()
def home() -> ResponseReturnValue:
    """住民検索 (placeholder until the search screen lands)."""
    return render_template_string(
        '{% extends "counter/base.html" %}{% block title %}住民検索{% endblock %}'
        '{% block content %}<h1>住民検索</h1>{% endblock %}')
