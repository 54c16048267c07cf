"""Counter: every change kind's form, drafts, commits by the right role, rejects, bad input."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from jukibridge.change_requests import REQUEST_TYPES, request_fields
from jukibridge.records import ChangeKind, RecordState
from tests.storage.helpers import arrive
from tests.web.conftest import csrf_token, login, post_form
from web.services import Services


def slug(kind: ChangeKind) -> str:
    return kind.name.lower().replace("_", "-")


def enter(client: FlaskClient, kind: str, data: dict[str, str], resident: str = ""
          ) -> tuple[int, str, str]:
    """Post the form of ``kind``; (status, redirect target or '', page text)."""
    form_page = f"/counter/changes/new/{kind}" + (f"?resident={resident}" if resident else "")
    response = post_form(client, f"/counter/changes/new/{kind}", data, form_page=form_page)
    return (response.status_code, response.headers.get("Location", ""),
            response.get_data(as_text=True))


def draft_status(page: str) -> str:
    found = re.search(r'id="draft" data-status="(\w+)"', page)
    assert found, "no #draft"
    return found.group(1)


def test_every_kind_has_a_form_named_as_its_request(client: FlaskClient) -> None:
    login(client, "clerk")
    for kind, cls in REQUEST_TYPES.items():
        page = client.get(f"/counter/changes/new/{slug(kind)}")
        text = page.get_data(as_text=True)
        assert page.status_code == 200, kind
        for f, _ in request_fields(cls):
            assert f'name="{f.name}"' in text, (kind, f.name)
        for extra in ("effective_on", "notified_on", "remarks"):
            assert f'name="{extra}"' in text
        assert 'id="change-submit"' in text and kind.label in text
    relocation = client.get("/counter/changes/new/relocation").get_data(as_text=True)
    assert re.search(r'<textarea[^>]*name="resident_codes"', relocation)
    birth = client.get("/counter/changes/new/birth").get_data(as_text=True)
    assert re.search(r'<select[^>]*name="sex"', birth) and "昭和25年3月15日" in birth
    assert re.search(r'<input[^>]*type="checkbox"[^>]*name="electoral_roll"', birth) or \
        re.search(r'<input[^>]*name="electoral_roll"[^>]*type="checkbox"', birth)
    assert re.search(r'name="effective_on" type="date"|type="date"[^>]*name="effective_on"',
                     birth)
    assert client.get("/counter/changes/new/no-such-kind").status_code == 404
    assert client.get("/counter/changes/new/MOVE_OUT").status_code == 404


def test_relocation_entered_then_committed(client: FlaskClient, services: Services) -> None:
    code = arrive(services.register())
    login(client, "clerk")
    form = client.get(f"/counter/changes/new/relocation?resident={code}").get_data(as_text=True)
    assert re.search(rf'<textarea[^>]*name="resident_codes"[^>]*>\s*{code}</textarea>', form)
    status, target, _ = enter(client, "relocation", {
        "resident_codes": code, "address": "東町5番5号", "notified_on": "2026-04-01",
        "remarks": "窓口で受付"}, resident=code)
    assert status == 302 and re.fullmatch(r"/counter/changes/\d+", target)
    change_id = int(target.rsplit("/", 1)[1])
    draft = client.get(target).get_data(as_text=True)
    assert draft_status(draft) == "draft" and "転居" in draft and "東町5番5号" in draft
    assert "仮登録しました" in draft and 'id="commit"' in draft and 'id="reject"' in draft
    listing = client.get("/counter/changes").get_data(as_text=True)
    assert f'data-change="{change_id}"' in listing and 'id="drafts"' in listing
    # Nothing is in the record until the commit.
    assert "東町" not in services.register().record(code, operator="clerk").address
    committed = client.post(f"/counter/changes/{change_id}/commit",
                            data={"csrf_token": csrf_token(draft)})
    assert committed.status_code == 302
    assert committed.headers["Location"] == f"/counter/residents/{code}"
    page = client.get(committed.headers["Location"]).get_data(as_text=True)
    assert "異動を確定しました。" in page
    assert "埼玉県所沢市東町5番5号" in page and 'id="certificates"' in page
    assert 'id="certificates-watch"' in page and f"/counter/residents/{code}/certificates" in page
    assert page.count('class="snapshot"') == 2
    assert draft_status(client.get(target).get_data(as_text=True)) == "committed"
    assert 'class="draft"' not in client.get("/counter/changes").get_data(as_text=True)
    record = services.register().record(code, operator="clerk")
    assert record.address == "埼玉県所沢市東町5番5号" and record.remarks == "窓口で受付"


def test_birth_through_the_generic_form(client: FlaskClient, services: Services) -> None:
    mother = arrive(services.register())
    login(client, "clerk")
    form = client.get(f"/counter/changes/new/birth?resident={mother}").get_data(as_text=True)
    assert re.search(rf'name="parent_code"[^>]*value="{mother}"', form)
    status, target, _ = enter(client, "birth", {
        "parent_code": mother, "name": "山田　陽菜", "name_kana": "やまだ　ひな",
        "birth_date": "令和8年4月1日", "sex": "2", "national_health_insurance": "y"})
    assert status == 302, _
    draft = client.get(target).get_data(as_text=True)
    assert "令和8年4月1日" in draft and "女" in draft
    done = client.post(f"{target}/commit", data={"csrf_token": csrf_token(draft)})
    child = done.headers["Location"].rsplit("/", 1)[1]
    record = services.register().record(child, operator="clerk")
    assert record.name_kana == "ヤマダ　ヒナ" and record.relationship == "子"
    assert record.national_health_insurance and not record.electoral_roll


def test_supervisor_kind_waits_for_a_supervisor(client: FlaskClient, services: Services) -> None:
    code = arrive(services.register())
    login(client, "clerk")
    status, target, _ = enter(client, "resident-code-change", {"resident_code": code},
                              resident=code)
    assert status == 302
    draft = client.get(target).get_data(as_text=True)
    assert "監督者の確定が必要です" in draft and 'id="commit"' not in draft
    refused = client.post(f"{target}/commit", data={"csrf_token": csrf_token(draft)})
    assert refused.status_code == 403 and "監督者の確定が必要です" in refused.get_data(
        as_text=True)
    assert services.register().record(code, operator="clerk").resident_code == code
    client.post("/counter/logout", data={"csrf_token": csrf_token(draft)})
    login(client, "chief")
    pending = client.get("/counter/changes").get_data(as_text=True)
    assert f'href="{target}"' in pending and "監督者" in pending
    review = client.get(target).get_data(as_text=True)
    assert 'id="commit"' in review
    done = client.post(f"{target}/commit", data={"csrf_token": csrf_token(review)})
    assert done.status_code == 302
    new_code = done.headers["Location"].rsplit("/", 1)[1]
    assert new_code != code
    assert services.register().record(new_code, operator="chief").resident_code == new_code


def test_a_supervisor_does_not_commit_their_own_supervised_draft(
        client: FlaskClient, services: Services) -> None:
    code = arrive(services.register())
    login(client, "chief")
    _, target, _ = enter(client, "correction", {"resident_code": code,
                                                "items": "フリガナ=ヤマダ　ハナ"})
    draft = client.get(target).get_data(as_text=True)
    assert 'id="commit"' not in draft and "別の監督者" in draft
    assert client.post(f"{target}/commit",
                       data={"csrf_token": csrf_token(draft)}).status_code == 403
    client.post("/counter/logout", data={"csrf_token": csrf_token(draft)})
    login(client, "chief2")
    review = client.get(target).get_data(as_text=True)
    assert "フリガナ=ヤマダ　ハナ" in review
    client.post(f"{target}/commit", data={"csrf_token": csrf_token(review)})
    assert services.register().record(code, operator="chief").name_kana == "ヤマダ　ハナ"


def test_reject_leaves_no_draft(client: FlaskClient, services: Services) -> None:
    code = arrive(services.register())
    login(client, "clerk")
    _, target, _ = enter(client, "death", {"resident_code": code}, resident=code)
    draft = client.get(target).get_data(as_text=True)
    response = client.post(f"{target}/reject", data={"csrf_token": csrf_token(draft),
                                                     "reason": "届出の取り下げ"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and draft_status(page) == "rejected"
    assert "却下しました" in page and 'id="commit"' not in page
    assert services.register().drafts() == []
    assert services.register().record(code, operator="clerk").state is RecordState.ACTIVE
    assert client.get(target).status_code == 404


# (kind, form data, the input the error shows on, part of the Japanese message)
BAD_INPUT: list[tuple[str, dict[str, str], str, str]] = [
    ("relocation", {"resident_codes": "24727059608", "address": "東町1番"}, "resident_codes",
     "住民基本台帳に見つかりません"),
    ("relocation", {"resident_codes": "2472705960", "address": "東町1番"}, "resident_codes",
     "住民票コードとして正しくありません"),
    ("relocation", {"resident_codes": "{code}", "address": "東町1番",
                    "effective_on": "2026-13-45"}, "effective_on", "日付として読み取れません"),
    ("relocation", {"resident_codes": "{code}", "address": "東町1番",
                    "notified_on": "2026-05-01"}, "notified_on", "未来の日付"),
    ("relocation", {"resident_codes": "{code}", "address": ""}, "address", "を入力してください"),
    ("relocation", {"resident_codes": "{code}", "address": "東京都千代田区1番"}, "address",
     "この市区町村内の住所"),
    ("birth", {"parent_code": "{code}", "name": "山田　空", "name_kana": "ヤマダ　ソラ",
               "birth_date": "昭和99年", "sex": "1"}, "birth_date", "読み取れません"),
    ("name-change", {"resident_code": "{code}", "name": "田中　花子", "name_kana": "Tanaka"},
     "name_kana", "カタカナまたはひらがな"),
    ("correction", {"resident_code": "{code}", "items": "住所 東町"}, "items", "1行ずつ"),
    ("immigration", {"name": "A", "name_kana": "エー", "birth_date": "1990", "sex": "",
                     "address": "東町1番", "previous_address": "米国",
                     "individual_number": "123456789018"}, "sex", "を入力してください"),
]


def test_bad_input_is_explained_in_japanese_and_enters_nothing(
        client: FlaskClient, services: Services) -> None:
    code = arrive(services.register())
    login(client, "clerk")
    for kind, data, field, message in BAD_INPUT:
        values = {k: v.replace("{code}", code) for k, v in data.items()}
        status, target, page = enter(client, kind, values)
        assert status in (400, 404, 409) and not target, (kind, field)
        assert 'id="change-error"' in page
        error = re.search(rf'id="{field}-error" data-field="{field}">([^<]*)<', page)
        assert error is not None, (kind, field)
        assert message in error.group(1), (kind, field, error.group(1))
        assert "123456789018" not in page  # an individual number is never sent back
    assert services.register().drafts() == []


def test_auditor_reads_but_never_enters(client: FlaskClient, services: Services) -> None:
    code = arrive(services.register())
    change_id = services.register().enter("clerk", REQUEST_TYPES[ChangeKind.DEATH](
        resident_code=code))  # type: ignore[call-arg]
    login(client, "auditor")
    home = client.get("/counter/")
    assert client.get("/counter/changes/new/relocation").status_code == 403
    refused = client.post("/counter/changes/new/relocation", data={
        "resident_codes": code, "address": "東町1番", "csrf_token": csrf_token(home)})
    assert refused.status_code == 403
    assert "権限" in refused.get_data(as_text=True)
    draft = client.get(f"/counter/changes/{change_id}").get_data(as_text=True)
    assert draft_status(draft) == "draft"
    assert 'id="commit"' not in draft and 'id="reject"' not in draft
    assert client.post(f"/counter/changes/{change_id}/commit",
                       data={"csrf_token": csrf_token(home)}).status_code == 403
    assert [d.change_id for d in services.register().drafts()] == [change_id]


def test_forms_without_csrf_token_are_refused(client: FlaskClient, services: Services) -> None:
    code = arrive(services.register())
    login(client, "clerk")
    response = client.post("/counter/changes/new/relocation", data={
        "resident_codes": code, "address": "東町1番"})
    assert response.status_code == 400 and "有効期限" in response.get_data(as_text=True)
    assert services.register().drafts() == []
    change_id = services.register().enter("clerk", REQUEST_TYPES[ChangeKind.DEATH](
        resident_code=code))  # type: ignore[call-arg]
    assert client.post(f"/counter/changes/{change_id}/commit").status_code == 400
    assert client.post(f"/counter/changes/{change_id}/reject").status_code == 400
    assert len(services.register().drafts()) == 1


def test_household_split_with_relationship_lines(client: FlaskClient,
                                                  services: Services) -> None:
    register = services.register()
    head = arrive(register)
    son = arrive(register, "山田　一郎", "ヤマダ　イチロウ", birth="2000-01-01", join=head,
                 relationship="子")
    grandson = arrive(register, "山田　次郎", "ヤマダ　ジロウ", birth="2024-01-01", join=head,
                      relationship="孫")
    login(client, "clerk")
    status, target, page = enter(client, "household-change", {
        "action": "split", "resident_codes": f"{son}\n{grandson}",
        "relationships": f"{grandson}＝子"}, resident=son)
    assert status == 302, page
    draft = client.get(target).get_data(as_text=True)
    assert "世帯分離" in draft
    client.post(f"{target}/commit", data={"csrf_token": csrf_token(draft)})
    records = [register.record(c, operator="clerk") for c in (head, son, grandson)]
    assert records[1].household_id == records[2].household_id != records[0].household_id
    assert (records[1].relationship, records[2].relationship) == ("世帯主", "子")


def test_commit_of_a_draft_overtaken_by_the_register_explains_why(
        client: FlaskClient, services: Services) -> None:
    code = arrive(services.register())
    login(client, "clerk")
    first = enter(client, "death", {"resident_code": code})[1]
    second = enter(client, "death", {"resident_code": code})[1]
    page = client.get(first).get_data(as_text=True)
    client.post(f"{first}/commit", data={"csrf_token": csrf_token(page)})
    response = client.post(f"{second}/commit", data={"csrf_token": csrf_token(page)})
    assert response.status_code == 409
    text = response.get_data(as_text=True)
    assert "消除されています" in text and draft_status(text) == "draft"
