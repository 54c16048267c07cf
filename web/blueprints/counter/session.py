"""Operator sessions at the counter: login, logout, idle timeout and role checks.

A session holds only the operator's login and the time of the last request. Every request of a
counter screen re-reads the operator (active, municipality, role) through the register, so a
deactivated operator or a changed role takes effect at once. Passwords are checked with argon2
and failures lock the operator (``jukibridge.operators``); both outcomes are audited there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import flash, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from jukibridge import operators
from jukibridge.errors import AuthenticationFailed, PermissionDenied
from jukibridge.records import Role
from jukibridge.tables import Operator
from web.app import services
from web.blueprints.counter import blueprint
from web.blueprints.idle import idle_too_long

F = TypeVar("F", bound=Callable[..., ResponseReturnValue])

OPERATOR_KEY = "counter_operator"
SEEN_KEY = "counter_seen"
LOCKED_MESSAGE = ("操作者がロックされています。しばらくしてから再度お試しいただくか、"
                  "監督者に連絡してください。")


@dataclass(frozen=True)
class CounterOperator:
    """The operator of the current request, as the register says now."""

    login: str
    display_name: str
    role: Role
    municipality_code: str

    @property
    def is_supervisor(self) -> bool:
        return self.role is Role.SUPERVISOR


class LoginForm(FlaskForm):
    login = StringField("操作者ID", validators=[DataRequired(), Length(max=40)])
    password = PasswordField("パスワード", validators=[DataRequired(), Length(max=200)])


def current_operator() -> CounterOperator:
    """The logged-in operator (only inside a view guarded by ``operator_required``)."""
    found = g.get("counter_operator")
    if not isinstance(found, CounterOperator):
        raise PermissionDenied("not logged in at the counter")
    return found


def operator_required(*roles: Role) -> Callable[[F], F]:
    """Guard a counter view: a live session (not idle too long) of an active operator with
    one of ``roles`` (any role when none is given); otherwise back to the login page, or a
    403 page for a role that may not use the screen."""

    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            login = session.get(OPERATOR_KEY)
            if not isinstance(login, str):
                return redirect(url_for("counter.login", next=request.full_path.rstrip("?")))
            now = services().clock.now()
            if idle_too_long(session.get(SEEN_KEY), now):
                session.clear()
                flash("一定時間操作がなかったため、ログアウトしました。"
                      "もう一度ログインしてください。", "error")
                return redirect(url_for("counter.login"))
            operator = _load(login)
            if operator is None:
                session.clear()
                flash("この操作者は現在利用できません。", "error")
                return redirect(url_for("counter.login"))
            if roles and operator.role not in roles:
                raise PermissionDenied("この画面を利用する権限がありません。")
            session[SEEN_KEY] = now.isoformat()
            g.counter_operator = operator
            return view(*args, **kwargs)

        return cast(F, guarded)

    return decorate


def _load(login: str) -> CounterOperator | None:
    with services().sessions() as db:
        row = db.get(Operator, login)
        if row is None or not row.active:
            return None
        return CounterOperator(login=row.login, display_name=row.display_name,
                               role=Role(row.role), municipality_code=row.municipality_code)


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """操作者ログイン."""
    form = LoginForm()
    if form.validate_on_submit():
        built = services()
        try:
            with built.sessions() as db:
                try:
                    operator = operators.authenticate(db, built.clock, form.login.data or "",
                                                      form.password.data or "")
                finally:
                    db.commit()  # failure counts and audit entries persist either way
                login_name = operator.login
        except AuthenticationFailed as exc:
            locked = "locked" in str(exc)
            flash(LOCKED_MESSAGE if locked else "操作者IDまたはパスワードが違います。", "error")
            return render_template("counter/login.html", form=form), 401
        session.clear()  # a fresh session on login (no fixation)
        session[OPERATOR_KEY] = login_name
        session[SEEN_KEY] = built.clock.now().isoformat()
        session.permanent = False
        target = request.args.get("next", "")
        if not (target.startswith("/counter/") and not target.startswith("//")):
            target = url_for("counter.home")
        return redirect(target)
    status = 400 if request.method == "POST" else 200
    return render_template("counter/login.html", form=form), status


@blueprint.post("/logout")
def logout() -> ResponseReturnValue:
    """ログアウト."""
    session.clear()
    flash("ログアウトしました。", "info")
    return redirect(url_for("counter.login"))


@blueprint.app_context_processor
def _inject_operator() -> dict[str, object]:
    return {"counter_operator": g.get("counter_operator")}
