"""Operator sessions at the counter: login, wrong password, lockout, CSRF, idle timeout."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from pki.clock import FrozenClock
from tests.conftest import PASSWORD
from tests.web.conftest import csrf_token, login, post_form


def test_screens_need_a_login(client: FlaskClient) -> None:
    response = client.get("/counter/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/counter/login?next=/counter/")


def test_login_opens_the_counter_and_logout_closes_it(client: FlaskClient) -> None:
    response = login(client, "clerk")
    assert response.headers["Location"] == "/counter/"
    home = client.get("/counter/")
    assert home.status_code == 200 and "住民検索" in home.get_data(as_text=True)
    cookie = client.get_cookie("session")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"
    out = client.post("/counter/logout", data={"csrf_token": csrf_token(home)})
    assert out.status_code == 302
    assert client.get("/counter/").status_code == 302


def test_wrong_password_is_refused_in_japanese(client: FlaskClient) -> None:
    response = post_form(client, "/counter/login", {"login": "clerk", "password": "wrong one"})
    assert response.status_code == 401
    assert "操作者IDまたはパスワードが違います" in response.get_data(as_text=True)
    assert client.get("/counter/").status_code == 302


def test_five_wrong_passwords_lock_the_operator(client: FlaskClient) -> None:
    for _ in range(5):
        post_form(client, "/counter/login", {"login": "chief", "password": "wrong one"})
    response = post_form(client, "/counter/login", {"login": "chief", "password": PASSWORD})
    assert response.status_code == 401
    assert "ロックされています" in response.get_data(as_text=True)


def test_a_form_without_its_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post("/counter/login", data={"login": "clerk", "password": PASSWORD})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert response.mimetype == "text/html" and "有効期限" in body
    assert client.get("/counter/").status_code == 302


def test_an_idle_session_ends(client: FlaskClient, clock: FrozenClock) -> None:
    login(client, "clerk")
    clock.advance(timedelta(minutes=14))
    assert client.get("/counter/").status_code == 200
    clock.advance(timedelta(minutes=16))
    response = client.get("/counter/")
    assert response.status_code == 302 and response.headers["Location"] == "/counter/login"
    assert "一定時間操作がなかった" in client.get("/counter/login").get_data(as_text=True)


def test_login_never_redirects_off_the_counter(client: FlaskClient) -> None:
    page = client.get("/counter/login?next=//evil.example/counter/")
    response = client.post("/counter/login?next=//evil.example/counter/",
                           data={"login": "clerk", "password": PASSWORD,
                                 "csrf_token": csrf_token(page)})
    assert response.headers["Location"] == "/counter/"


def test_unknown_counter_page_is_a_japanese_page(client: FlaskClient) -> None:
    response = client.get("/counter/no-such-screen")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert "見つかりません" in response.get_data(as_text=True)
