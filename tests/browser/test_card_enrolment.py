"""Card enrolment at the counter in a real browser: identity document checked, the resident sets
the PINs on their own step, the card is issued with both certificates."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Page, expect

from ca.tables import IssuedCertificate
from pki.card import Card
from tests.browser.conftest import Live, Shots, operator_login
from tests.storage.conftest import AUTH_PIN, SIGNING_PASSWORD
from tests.storage.helpers import arrive
from web import secrets


def test_a_card_is_enrolled_through_the_counter_screens(page: Page, live: Live, shot: Shots,
                                                        tmp_path: Path) -> None:
    code = arrive(live.services.register())
    operator_login(page, live, "clerk")
    page.goto(f"{live.url}/counter/residents/{code}")
    page.click("a#enrol-link")
    page.select_option("select[name=identity_document]", "運転免許証")
    page.check("input[name=identity_checked]")
    shot(page, "identity-checked")
    page.click("#enrol-next")

    # The resident's own step: no operator data on the page.
    expect(page).to_have_url(re.compile(r"/counter/enrolments/[^/]+/pins$"))
    expect(page.locator("#operator-name")).to_have_count(0)
    page.fill("input[name=auth_pin]", AUTH_PIN)
    page.fill("input[name=auth_pin_confirm]", AUTH_PIN)
    page.fill("input[name=signing_password]", SIGNING_PASSWORD)
    page.fill("input[name=signing_password_confirm]", "ABC124")
    page.click("#pins-submit")
    expect(page.locator("body")).to_contain_text("一致しません")
    shot(page, "pins-mismatch")
    page.fill("input[name=auth_pin]", AUTH_PIN)
    page.fill("input[name=auth_pin_confirm]", AUTH_PIN)
    page.fill("input[name=signing_password]", SIGNING_PASSWORD)
    page.fill("input[name=signing_password_confirm]", SIGNING_PASSWORD)
    shot(page, "pins")
    page.click("#pins-submit")

    expect(page.locator("#card-id")).not_to_be_empty()
    signing_serial = page.locator("#signing-serial").inner_text().strip()
    auth_serial = page.locator("#auth-serial").inner_text().strip()
    shot(page, "issued")
    with live.services.sessions() as session:
        issued = {int(row.serial) for row in session.query(IssuedCertificate).filter(
            IssuedCertificate.resident_code == code)}
    assert {int(signing_serial, 16), int(auth_serial, 16)} == issued

    with page.expect_download() as download:
        page.click("a#card-download")
    card_file = tmp_path / "card.jcard"
    download.value.save_as(card_file)
    with Card.open(card_file, secrets.card_seal_key(live.services.settings)) as card:
        assert card.read_certificate("sign", SIGNING_PASSWORD).serial_number == int(
            signing_serial, 16)
        assert card.read_certificate("auth").serial_number == int(auth_serial, 16)
        card.verify_pin("auth", AUTH_PIN)  # raises on a wrong PIN

    page.goto(f"{live.url}/counter/residents/{code}")
    expect(page.locator("tr.certificate[data-kind=sign]")).to_have_attribute(
        "data-status", "valid")
    shot(page, "resident-with-card")
