"""Operator login at the counter in a real browser: a wrong password, then the right one."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Live, Shots, operator_login


def test_operator_login_and_a_wrong_password(page: Page, live: Live, shot: Shots) -> None:
    operator_login(page, live, "clerk", "not the password")
    expect(page.locator(".flash.error")).to_contain_text("操作者IDまたはパスワードが違います")
    assert page.url.endswith("/counter/login")
    shot(page, "wrong-password")

    operator_login(page, live, "clerk")
    expect(page).to_have_url(f"{live.url}/counter/")
    expect(page.locator("#operator-name")).to_contain_text("担当者")
    expect(page.locator("h1")).to_contain_text("住民検索")
    shot(page, "logged-in")

    page.click("#logout")
    expect(page).to_have_url(f"{live.url}/counter/login")
    expect(page.locator(".flash.info")).to_contain_text("ログアウトしました")
    shot(page, "logged-out")


def test_a_supervisor_sees_the_dashboard_and_a_clerk_does_not(page: Page, live: Live,
                                                              shot: Shots) -> None:
    operator_login(page, live, "clerk")
    expect(page.locator("#nav-dashboard")).to_have_count(0)
    page.goto(f"{live.url}/counter/dashboard")
    expect(page.locator("#error")).to_have_attribute("data-status", "403")
    shot(page, "dashboard-refused")
    page.goto(f"{live.url}/counter/")
    page.click("#logout")

    operator_login(page, live, "chief")
    page.click("#nav-dashboard")
    for part in ("#tier-lag", "#crl-partitions", "#ocsp-served"):
        expect(page.locator(part)).to_be_visible()
    chart = page.locator("svg#revocations-chart")
    expect(chart).to_be_visible()
    assert chart.bounding_box() is not None
    shot(page, "dashboard")
