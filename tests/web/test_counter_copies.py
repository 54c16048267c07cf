"""Counter: copies of resident records as PDF downloads, wide-area copies included."""

from __future__ import annotations

import io

from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select

from jukibridge.change_requests import Immigration
from jukibridge.records import Sex
from jukibridge.tables import AuditEntry
from pki.eras import PartialDate
from tests.storage.helpers import arrive
from tests.web.conftest import csrf_token, login, post_form
from web.services import Services


def pdf_text(pdf: bytes) -> str:
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return "".join(text.split())


def actions(services: Services) -> list[str]:
    with services.sessions() as db:
        return list(db.scalars(select(AuditEntry.action).order_by(AuditEntry.entry_id)))


def test_copy_of_a_resident_is_a_pdf_download(client: FlaskClient, services: Services) -> None:
    code = arrive(services.register())
    login(client, "clerk")
    form = client.get(f"/counter/residents/{code}/copy")
    page = form.get_data(as_text=True)
    assert form.status_code == 200 and 'id="copy-submit"' in page and "埼玉県所沢市" in page
    response = client.post(f"/counter/residents/{code}/copy",
                           data={"at": "112089", "csrf_token": csrf_token(page)})
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    pdf = response.get_data()
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert "住民票の写し" in text and "山田花子" in text and "広域交付" not in text
    assert code not in text  # the nationwide form carries no resident code
    assert actions(services)[-1] == "copy.issue"


def test_wide_area_copy_of_another_municipalitys_resident(
        client: FlaskClient, services: Services, hiratsuka: str) -> None:
    outcome = services.register(hiratsuka).perform("h-clerk", Immigration(
        name="鈴木　一郎", name_kana="スズキ　イチロウ", birth_date=PartialDate.parse("1975-07-07"),
        sex=Sex.MALE, address="浅間町1番1号", previous_address="アメリカ合衆国",
        domicile="神奈川県平塚市浅間町1番地", domicile_head="鈴木　一郎"))
    code = outcome.resident_codes[0]
    login(client, "clerk")
    lookup = client.get(f"/counter/copy?code={code}")
    assert lookup.status_code == 302
    assert lookup.headers["Location"] == f"/counter/residents/{code}/copy"
    response = post_form(client, f"/counter/residents/{code}/copy", {"at": "112089"})
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.get_data())
    assert "広域交付" in text and "鈴木一郎" in text and "神奈川県平塚市浅間町1番1号" in text
    assert "浅間町1番地" not in text  # never the domicile
    assert actions(services)[-2:] == ["copy.issue", "copy.provide"]


def test_copy_refusals_are_japanese_pages(client: FlaskClient, services: Services) -> None:
    code = arrive(services.register())
    login(client, "clerk")
    unknown = post_form(client, "/counter/residents/24727059608/copy", {"at": "112089"})
    assert unknown.status_code == 404 and unknown.mimetype == "text/html"
    assert "見つかりません" in unknown.get_data(as_text=True)
    elsewhere = post_form(client, f"/counter/residents/{code}/copy", {"at": "142034"})
    assert elsewhere.status_code == 400 and "ログインしている市区町村" in elsewhere.get_data(
        as_text=True)
    malformed = client.get("/counter/residents/123/copy")
    assert malformed.status_code == 400 and "11桁" in malformed.get_data(as_text=True)
    bad_lookup = client.get("/counter/copy?code=123")
    assert bad_lookup.status_code == 302 and bad_lookup.headers["Location"] == "/counter/"
    no_token = client.post(f"/counter/residents/{code}/copy", data={"at": "112089"})
    assert no_token.status_code == 400 and no_token.mimetype == "text/html"
    assert "copy.issue" not in actions(services)


def test_auditor_issues_no_copies(client: FlaskClient, services: Services) -> None:
    code = arrive(services.register())
    login(client, "auditor")
    assert client.get(f"/counter/residents/{code}/copy").status_code == 403
    home = client.get("/counter/")
    refused = client.post(f"/counter/residents/{code}/copy",
                          data={"at": "112089", "csrf_token": csrf_token(home)})
    assert refused.status_code == 403 and refused.mimetype == "text/html"
    assert "copy.issue" not in actions(services)
