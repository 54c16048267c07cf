"""The resident portal in a real browser: card login by challenge–response (``jpki login`` signs
the code on the card), the resident's certificates, their provision history and the consent."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from jukibridge import provision, workers
from tests.browser.conftest import Live, Shots
from tests.storage.conftest import AUTH_PIN, SIGNING_PASSWORD, Jpki
from tests.storage.helpers import arrive
from web.enrolment import enrol

PENSION_AGENCY, PENSION_STATUS_CHECK = "japan-pension-service", "pension-status-check"


def test_card_login_then_certificates_provision_history_and_consent(
        page: Page, live: Live, shot: Shots, jpki: Jpki, tmp_path: Path) -> None:
    services = live.services
    code = arrive(services.register())
    card = enrol(services, operator="clerk", resident_code=code, identity_document="旅券",
                 auth_pin=AUTH_PIN, signing_password=SIGNING_PASSWORD,
                 out=live.home / "cards" / f"{code}.jcard")
    workers.drain(services.sessions, services.clock)  # the identity reaches the national server
    provision.request(services.sessions, services.clock, resident_code=code,
                      agency=PENSION_AGENCY, purpose_id=PENSION_STATUS_CHECK)
    pin_file = tmp_path / "auth.pin"
    pin_file.write_text(AUTH_PIN)

    page.goto(f"{live.url}/portal/")
    shot(page, "portal-home")
    page.goto(f"{live.url}/portal/login")
    login_code = page.locator("#login-code").inner_text().strip()
    assert login_code
    shot(page, "login-code")
    # The resident signs the code with the card's authentication key and PIN.
    out = jpki("login", "--card", str(card.path), "--code", login_code, "--url", live.url,
               "--pin-file", str(pin_file)).output
    assert "logged in" in out
    expect(page).to_have_url(f"{live.url}/portal/me", timeout=5_000)
    certificates = page.locator("#certificates")
    expect(certificates.locator("tr.certificate[data-kind=auth]")).to_have_attribute(
        "data-status", "valid")
    expect(certificates.locator("tr.certificate[data-kind=sign]")).to_have_attribute(
        "data-status", "valid")
    expect(page.locator("#consent-state")).to_have_attribute("data-state", "none")
    shot(page, "my-page")

    page.click("#consent-give")
    expect(page.locator("#consent-state")).to_have_attribute("data-state", "given")
    shot(page, "consent-given")
    page.click("#consent-withdraw")
    expect(page.locator("#consent-state")).to_have_attribute("data-state", "withdrawn")

    page.goto(f"{live.url}/portal/me/provisions")
    provisions = page.locator("#provisions")
    expect(provisions).to_contain_text("日本年金機構")
    expect(provisions).to_contain_text("現況")
    shot(page, "provision-history")


def test_a_used_login_code_cannot_be_replayed(page: Page, live: Live, jpki: Jpki,
                                             tmp_path: Path, shot: Shots) -> None:
    services = live.services
    code = arrive(services.register())
    card = enrol(services, operator="clerk", resident_code=code, identity_document="旅券",
                 auth_pin=AUTH_PIN, signing_password=SIGNING_PASSWORD,
                 out=live.home / "cards" / f"{code}.jcard")
    pin_file = tmp_path / "auth.pin"
    pin_file.write_text(AUTH_PIN)
    page.goto(f"{live.url}/portal/login")
    login_code = page.locator("#login-code").inner_text().strip()
    signed = tmp_path / "signed-challenge.json"
    jpki("login", "--card", str(card.path), "--code", login_code, "--pin-file", str(pin_file),
         "--out", str(signed))
    page.set_input_files("input[name=signed_challenge]", str(signed))
    page.click("#challenge-submit")
    expect(page).to_have_url(f"{live.url}/portal/me")
    shot(page, "logged-in-by-upload")

    other = page.context.browser.new_context()  # type: ignore[union-attr]
    try:
        stranger = other.new_page()
        stranger.goto(f"{live.url}/portal/login")
        stranger.set_input_files("input[name=signed_challenge]", str(signed))
        stranger.click("#challenge-submit")
        expect(stranger.locator(".flash.error")).to_be_visible()
        assert not stranger.url.endswith("/portal/me")
        shot(stranger, "replay-refused")
    finally:
        other.close()
