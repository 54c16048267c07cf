"""A relocation at the counter in a real browser, and what follows within the second: the
resident page shows the signing certificate revoked, and the portal's self-check says so."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding
from playwright.sync_api import Page, expect

from pki.card import Card
from tests.browser.conftest import Live, Shots, operator_login
from tests.storage.conftest import AUTH_PIN, SIGNING_PASSWORD
from tests.storage.helpers import arrive
from web import secrets
from web.enrolment import enrol

NEW_ADDRESS = "東町5番8号"


def _holder(live: Live) -> tuple[str, Path]:
    """A resident of 所沢市 with a card issued by the CA (as at the counter)."""
    code = arrive(live.services.register())
    card = enrol(live.services, operator="clerk", resident_code=code,
                 identity_document="運転免許証", auth_pin=AUTH_PIN,
                 signing_password=SIGNING_PASSWORD, out=live.home / "cards" / f"{code}.jcard")
    return code, card.path


def test_a_relocation_revokes_the_signing_certificate_on_screen_and_in_the_self_check(
        page: Page, live: Live, shot: Shots, tmp_path: Path) -> None:
    code, card = _holder(live)
    operator_login(page, live, "clerk")
    page.fill("input[name=resident_code]", code)
    page.click("#search-submit")
    expect(page.locator("#results")).to_contain_text(code)
    shot(page, "search")
    page.click("a.resident-link")
    expect(page.locator("#record")).to_contain_text("山田")
    signing = page.locator("tr.certificate[data-kind=sign]")
    expect(signing).to_have_attribute("data-status", "valid")
    shot(page, "resident")

    page.click("a.change-link[data-kind=relocation]")
    page.fill("input[name=address]", NEW_ADDRESS)
    shot(page, "relocation-form")
    page.click("#change-submit")
    expect(page.locator("#draft")).to_have_attribute("data-status", "draft")
    shot(page, "draft")
    page.click("#commit")
    expect(page.locator(".flash")).to_contain_text("異動を確定しました")
    expect(page.locator("#record")).to_contain_text(NEW_ADDRESS)
    # The tier and revocation workers run in the server: the page shows the revocation
    # without a reload (it refreshes its certificate list itself).
    expect(page.locator("tr.certificate[data-kind=sign]")).to_have_attribute(
        "data-status", "revoked", timeout=5_000)
    expect(page.locator("tr.certificate[data-kind=auth]")).to_have_attribute(
        "data-status", "valid")
    shot(page, "revoked-on-screen")

    with Card.open(card, secrets.card_seal_key(live.services.settings)) as held:
        certificate = held.read_certificate("sign", SIGNING_PASSWORD)
    pem = tmp_path / "sign.pem"
    pem.write_bytes(certificate.public_bytes(Encoding.PEM))
    page.goto(f"{live.url}/portal/check")
    page.set_input_files("input[name=certificate]", str(pem))
    shot(page, "self-check-form")
    page.click("#check-submit")
    result = page.locator("#check-result")
    expect(result).to_have_attribute("data-status", "revoked")
    expect(result).to_contain_text("失効")
    shot(page, "self-check-revoked")
