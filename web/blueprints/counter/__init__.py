"""The counter (窓口): Japanese screens for municipal staff, behind an operator login.

One blueprint, one module per screen group: ``session`` (login, logout, idle timeout, roles),
``residents`` (search, record, household, history), ``changes`` (drafts and commits of every
change kind), ``copies`` (wide-area copies), ``cards`` (enrolment, card loss, PIN reset,
revocation on request), ``consents`` (consent to the latest basic four service) and
``dashboard`` (supervisors' operations view).
"""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("counter", __name__, url_prefix="/counter")

# The modules attach their routes to ``blueprint`` when imported.
from web.blueprints.counter import (  # noqa: E402
    cards,
    changes,
    consents,
    copies,
    dashboard,
    residents,
    session,
)

__all__ = ["blueprint", "cards", "changes", "consents", "copies", "dashboard", "residents",
           "session"]
