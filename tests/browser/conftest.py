"""Browser tests: Playwright for Python driving Debian's Chromium, headless, against the real
service (``jpki serve``'s server and workers) on a loopback port.

The set-up installs ``chromium`` and a Japanese font with apt-get when missing and fails (never
skips) when it cannot. Playwright's own browser download is never used. Chromium is told to
resolve no host but the loopback one, so the tests never reach the network. Each test writes a
screenshot of every page it checks to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import re
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from pki.clock import FrozenClock
from tests.conftest import PASSWORD
from tests.debian import install
from tests.storage.conftest import card_instance, hiratsuka, jpki  # noqa: F401  (fixtures)
from web.config import load_settings
from web.server import Running, start
from web.services import Services

CHROMIUM = "/usr/bin/chromium"
FONT_GLOB = "/usr/share/fonts/**/ipag*.tt[fc]"
PACKAGES = ("chromium", "fonts-ipafont-gothic")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
# Resolve nothing but loopback: Chromium otherwise looks up Google hosts on its own.
NO_NETWORK = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"


def _missing() -> list[str]:
    have = {"chromium": Path(CHROMIUM).exists(),
            "fonts-ipafont-gothic": bool(list(Path("/").glob(FONT_GLOB.lstrip("/"))))}
    return [name for name in PACKAGES if not have[name]]


@pytest.fixture(scope="package")  # Playwright runs an event loop: stop it after these tests
def playwright() -> Iterator[Playwright]:
    install(*_missing(), present=lambda: not _missing())
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                          args=[NO_NETWORK])
    yield launched
    launched.close()


@dataclass
class Live:
    """The running service: its base URL, services and test clock."""

    url: str
    services: Services
    clock: FrozenClock
    home: Path


@pytest.fixture
def live(card_instance: Path, clock: FrozenClock) -> Iterator[Live]:  # noqa: F811
    """``jpki serve`` on a free loopback port, with the tier and revocation workers."""
    services = Services.build(load_settings(), clock=clock)
    running: Running = start(services, "127.0.0.1", 0, workers=True)
    thread = threading.Thread(target=running.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield Live(url=running.url, services=services, clock=clock, home=card_instance)
    finally:
        running.stop()
        thread.join(timeout=10)
        services.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(locale="ja-JP", viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    yield opened
    context.close()


class Shots:
    """Screenshots of one test, numbered in the order taken."""

    def __init__(self, test_name: str) -> None:
        self.prefix = re.sub(r"[^A-Za-z0-9_.-]+", "-", test_name).strip("-")
        self.count = 0
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for old in ARTIFACTS.glob(f"{self.prefix}-*.png"):
            old.unlink()

    def __call__(self, page: Page, name: str) -> Path:
        self.count += 1
        path = ARTIFACTS / f"{self.prefix}-{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 0
        return path


@pytest.fixture
def shot(request: pytest.FixtureRequest) -> Shots:
    return Shots(request.node.name)


def operator_login(page: Page, live: Live, who: str = "clerk",
                   password: str = PASSWORD) -> None:
    """Log in at the counter through the login page."""
    page.goto(f"{live.url}/counter/login")
    page.fill("#login", who)
    page.fill("#password", password)
    with page.expect_navigation():  # the session cookie is set before the next step
        page.click("#login-submit")


def chromium_version() -> str:
    return subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()



