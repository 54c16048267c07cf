"""Counter screens: copies of resident records (住民票の写し), wide-area (広域交付) included.

Any municipality issues a copy of any record (``jukibridge.copies``): at the operator's own
municipality the copy of one of its residents is an ordinary copy, the copy of a resident of
another municipality is a wide-area copy. The nationwide form never carries the domicile, the
resident code or the individual number; the domain offers no choice of items, so neither does
this screen. The copy is a PDF download (``jukibridge.copy_pdf``), never kept on the server.
"""

from __future__ import annotations

import io

from flask import render_template, request, send_file
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import SelectField

from jukibridge.copies import issue_copy
from jukibridge.copy_pdf import render_pdf
from jukibridge.errors import NotFound, PermissionDenied, RegisterError
from jukibridge.records import Role
from web.app import services
from web.blueprints.counter import blueprint
from web.blueprints.counter.display import explain, japanese
from web.blueprints.counter.residents import checked_code
from web.blueprints.counter.session import current_operator, operator_required


class CopyForm(FlaskForm):
    at = SelectField("交付する市区町村", validate_choice=False)


@blueprint.route("/residents/<code>/copy", methods=["GET", "POST"])
@operator_required(Role.CLERK, Role.SUPERVISOR)
def copy(code: str) -> ResponseReturnValue:
    """住民票の写しの交付: the form, then the PDF."""
    try:
        code = checked_code(code)
    except RegisterError as exc:
        raise japanese(exc) from exc
    operator = current_operator()
    built = services()
    register = built.register(operator.municipality_code)
    form = CopyForm()
    form.at.choices = [(register.municipality_code, register.address_prefix)]
    if request.method == "GET" or not form.validate():
        status = 200 if request.method == "GET" else 400
        return _page(form, code, None if status == 200 else "入力内容を確認してください。",
                     status)
    if form.at.data != register.municipality_code:
        return _page(form, code, "交付する市区町村は、ログインしている市区町村です。", 400)
    try:
        issued = issue_copy(built.sessions, built.clock, at=register.municipality_code,
                            resident_code=code, operator=operator.login)
    except RegisterError as exc:
        message = explain(exc)
        if isinstance(exc, NotFound) and exc.fields.get("resident_code"):
            message = f"住民票コード {code} の住民票は見つかりません。"
        status = 404 if isinstance(exc, NotFound) else 403 if isinstance(
            exc, PermissionDenied) else 400
        return _page(form, code, message, status)
    response = send_file(io.BytesIO(render_pdf(issued)), mimetype="application/pdf",
                         as_attachment=True,
                         download_name=f"juminhyo-{issued.issued_on:%Y%m%d}-{issued.copy_id}.pdf")
    response.headers["Cache-Control"] = "no-store"
    return response


def _page(form: CopyForm, code: str, error: str | None, status: int) -> ResponseReturnValue:
    return render_template("counter/copy.html", form=form, code=code, error=error), status
