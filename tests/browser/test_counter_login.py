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
