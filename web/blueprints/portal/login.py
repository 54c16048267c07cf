"""Card login screens: the code, its status (polled by the page), the CLI's response endpoint
and the upload of a signed challenge file. The logic is in ``web.portal_login``."""

from __future__ import annotations

import json
import logging

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from web.app import services
from web.blueprints.portal import blueprint
from web.blueprints.portal.session import browser_token, log_in, logged_in
from web.certificate_check import jst
from web.errors import problem
from web.extensions import csrf
from web.portal_login import (
    CODE_MINUTES,
    MAX_DOCUMENT,
    STORE,
    LoginRefused,
    SignedChallenge,
    State,
    accepted_origins,
    normalise_code,
    origin_of,
    verify,
)

log = logging.getLogger(__name__)

STATE_MESSAGES = {
    State.EXPIRED: "コードの有効期限が切れました。画面を開き直して、新しいコードでお試しください。",
    State.UNKNOWN: "このコードは使えません。画面を開き直して、新しいコードでお試しください。",
    State.CLAIMED: "このコードは使用済みです。画面を開き直してください。",
}


class UploadForm(FlaskForm):
    signed_challenge = FileField("署名済みチャレンジのファイル（jpki login --out で作成）",
                                 validators=[FileRequired("ファイルを選んでください。")])


def _origin() -> str:
    """The origin the resident should sign for: this page's, when the service accepts it."""
    built = services()
    here = origin_of(request.host_url)
    return here if here in accepted_origins(built, request.host_url) else origin_of(
        built.settings.base_url)


def _page(form: UploadForm, status: int = 200) -> ResponseReturnValue:
    """The login page with a fresh code for this browser."""
    built = services()
    try:
        challenge = STORE.issue(browser_token(), built.clock.now())
    except LoginRefused as refused:
        flash(refused.message, "error")
        return render_template("portal/login.html", form=form, challenge=None), 503
    return render_template(
        "portal/login.html", form=form, challenge=challenge, origin=_origin(),
        expires=jst(challenge.expires_at), minutes=CODE_MINUTES,
        status_url=url_for("portal.login_status", code=challenge.code)), status


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """カードでログイン: the code to sign, and the upload of a signed challenge."""
    if logged_in() and request.method == "GET":
        return redirect(url_for("portal.me"))
    form = UploadForm()
    if not form.validate_on_submit():
        return _page(form, 400 if form.is_submitted() else 200)
    upload = form.signed_challenge.data
    try:
        signed = SignedChallenge.parse(upload.stream.read(MAX_DOCUMENT + 1))
        browser = browser_token()
        done = verify(services(), signed, origins=accepted_origins(services(),
                                                                   request.host_url),
                      browser=browser)
    except LoginRefused as refused:
        flash(refused.message, "error")
        return _page(form, refused.status)
    STORE.claim(done.code, browser, services().clock.now())
    log_in(done)
    flash("ログインしました。", "info")
    return redirect(url_for("portal.me"))


@blueprint.get("/login/status")
def login_status() -> ResponseReturnValue:
    """Polled by the login page: pending, done (this session is now logged in), or over."""
    built = services()
    browser = browser_token()
    try:
        code = normalise_code(request.args.get("code", ""))
    except LoginRefused:
        return _json({"state": State.UNKNOWN.value, "message": STATE_MESSAGES[State.UNKNOWN]})
    state = STORE.state(code, browser, built.clock.now())
    if state is State.DONE:
        done = STORE.claim(code, browser, built.clock.now())
        if done is not None:
            log_in(done)
            flash("ログインしました。", "info")
            return _json({"state": "done", "next": url_for("portal.me")})
        state = State.CLAIMED
    body: dict[str, str] = {"state": state.value}
    if state is State.FAILED:
        kind = STORE.failure(code, browser) or ""
        body["message"] = LoginRefused(kind, "").message
    elif state in STATE_MESSAGES:
        body["message"] = STATE_MESSAGES[state]
    return _json(body)


@blueprint.post("/login/response")
@csrf.exempt
def login_response() -> ResponseReturnValue:
    """The CLI's signed challenge (JSON); answers JSON, problem documents on refusal."""
    if (request.content_length or 0) > MAX_DOCUMENT:
        return problem(413, "the signed challenge is too large", kind="malformed")
    try:
        signed = SignedChallenge.parse(request.get_data(cache=False)[:MAX_DOCUMENT + 1])
        verify(services(), signed, origins=accepted_origins(services(), request.host_url))
    except LoginRefused as refused:
        return problem(refused.status, refused.detail, title=refused.message,
                       kind=refused.kind)
    except Exception:
        log.exception("portal: a login response could not be checked")
        return problem(500, "the login could not be checked; the fault was logged")
    return _json({"status": "verified",
                  "message": "確認しました。ブラウザの画面でログインが完了します。"})


def _json(body: dict[str, str]) -> Response:
    response = Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response
