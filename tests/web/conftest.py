"""Fixtures of the web tests: an instance with both CAs, its app and a browser-like client.

CSRF protection stays on: forms are posted with the token read from the page, as a browser does.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from jukibridge.register import Register
from pki.clock import FrozenClock
from tests.conftest import PASSWORD
from tests.storage.conftest import Jpki, card_instance, hiratsuka, jpki  # noqa: F401  (fixtures)
from web.app import create_app
from web.config import load_settings
from web.server import Running, start
from web.services import Services

if TYPE_CHECKING:
    from tests.web.portal_helpers import Holder

_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def services(card_instance: Path, clock: FrozenClock) -> Iterator[Services]:  # noqa: F811
    """The services of an instance with both CAs initialised, on the test clock."""
    built = Services.build(load_settings(), clock=clock)
    yield built
    built.close()


@pytest.fixture
def app(services: Services) -> Flask:
    return create_app(services=services, test_config={"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def holder(jpki: Jpki, card_instance: Path, register: Register) -> Holder:  # noqa: F811
    """A resident of 所沢市 with an enrolled card (PIN files beside it)."""
    from tests.web.portal_helpers import enrolled  # it imports this module's helpers

    return enrolled(jpki, card_instance, register)


@pytest.fixture
def live(services: Services) -> Iterator[Running]:
    """What `jpki serve` runs, on a free loopback port (workers off: not needed here)."""
    running = start(services, "127.0.0.1", 0, workers=False)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.stop()
    thread.join(5)


def csrf_token(page: TestResponse | str) -> str:
    """The CSRF token of the first form on a page."""
    text = page if isinstance(page, str) else page.get_data(as_text=True)
    found = _TOKEN.search(text)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def post_form(client: FlaskClient, url: str, data: dict[str, str], *,
              form_page: str | None = None, **kwargs: object) -> TestResponse:
    """GET the page with the form (``form_page``, default ``url``), then POST ``data`` to
    ``url`` with its CSRF token, as a browser would."""
    page = client.get(form_page or url)
    return client.post(url, data={**data, "csrf_token": csrf_token(page)}, **kwargs)  # type: ignore[arg-type]


def login(client: FlaskClient, who: str = "clerk", password: str = PASSWORD) -> TestResponse:
    """Log ``who`` in at the counter; asserts success."""
    response = post_form(client, "/counter/login", {"login": who, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response
