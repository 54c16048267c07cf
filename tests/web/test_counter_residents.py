"""Counter: finding a resident, the record with era dates, household, history and certificates."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from flask.testing import FlaskClient
from sqlalchemy import select

from jukibridge import workers
from jukibridge.change_requests import Relocation
from jukibridge.tables import AuditEntry
from pki.clock import FrozenClock
from tests.storage.conftest import Jpki, enrol_card
from tests.storage.helpers import arrive
from tests.web.conftest import login
from web.services import Services

BIRTH = "1990-05-03"  # 平成2年5月3日


def family(services: Services) -> tuple[str, str]:
    """A household of two: 山田花子 (head) and 山田太郎 (夫)."""
    register = services.register()
    head = arrive(register, birth=BIRTH)
    husband = arrive(register, "山田　太郎", "ヤマダ　タロウ", birth="1988-11-20", join=head,
                     relationship="夫")
    return head, husband


def rows(page: str, table: str) -> list[str]:
    """The body rows of ``<table id=TABLE>``."""
    found = re.search(rf'<table id="{table}".*?<tbody>(.*?)</tbody>', page, re.S)
    assert found, f"no table #{table}"
    return re.findall(r"<tr\b.*?</tr>", found.group(1), re.S)


def audited(services: Services, action: str) -> int:
    with services.sessions() as db:
        return len(db.scalars(select(AuditEntry).where(AuditEntry.action == action)).all())


def test_search_by_each_key(client: FlaskClient, services: Services) -> None:
    head, husband = family(services)
    login(client, "clerk")
    by_code = client.get(f"/counter/?resident_code={head}").get_data(as_text=True)
    assert by_code.count('name="resident_code"') == 1  # one search input of that name
    assert f'class="resident-link" href="/counter/residents/{head}"' in by_code
    assert len(rows(by_code, "results")) == 1
    by_kana = client.get("/counter/?name_kana=やまだ").get_data(as_text=True)  # hiragana too
    assert len(rows(by_kana, "results")) == 2
    for birth in ("平成2年5月3日", BIRTH, "H2.5.3"):
        page = client.get("/counter/", query_string={"birth_date": birth})
        text = page.get_data(as_text=True)
        assert page.status_code == 200 and len(rows(text, "results")) == 1, birth
        assert f"/counter/residents/{head}" in text and "平成2年5月3日" in text
    both = client.get("/counter/", query_string={"name_kana": "ヤマダ　タ",
                                                "birth_date": "昭和63年11月20日"})
    assert f"/counter/residents/{husband}" in both.get_data(as_text=True)
    assert audited(services, "record.search") == 5


def test_search_tells_what_is_wrong_in_japanese(client: FlaskClient, services: Services) -> None:
    family(services)
    login(client, "clerk")
    bad_date = client.get("/counter/?birth_date=昭和99年13月1日")
    assert bad_date.status_code == 400
    assert "生年月日を読み取れません" in bad_date.get_data(as_text=True)
    bad_code = client.get("/counter/?resident_code=12345")
    assert bad_code.status_code == 400 and "11桁" in bad_code.get_data(as_text=True)
    bad_kana = client.get("/counter/?name_kana=Yamada")
    assert "カタカナまたはひらがな" in bad_kana.get_data(as_text=True)
    nothing = client.get("/counter/?resident_code=&name_kana=&birth_date=")
    assert "いずれかを入力してください" in nothing.get_data(as_text=True)
    unknown = client.get("/counter/?resident_code=24727059608").get_data(as_text=True)
    assert 'id="no-results"' in unknown and 'id="results"' not in unknown


def test_record_household_and_history_with_era_dates(client: FlaskClient,
                                                     services: Services) -> None:
    head, husband = family(services)
    services.register().perform("clerk", Relocation(resident_codes=[head, husband],
                                                    address="東町5番5号"))
    login(client, "clerk")
    response = client.get(f"/counter/residents/{head}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    record = re.search(r'<dl class="record card" id="record">(.*?)</dl>', page, re.S)
    assert record is not None
    for expected in ("山田　花子", "ヤマダ　ハナコ", "平成2年5月3日", "女", "世帯主",
                     "埼玉県所沢市東町5番5号", "埼玉県所沢市並木三丁目1番1号", "令和8年4月1日",
                     "埼玉県所沢市並木三丁目1番地", head, "転居"):
        assert expected in record.group(1), expected
    household = rows(page, "household")
    assert len(household) == 2 and "世帯主" in household[0] and "夫" in household[1]
    assert f'href="/counter/residents/{husband}"' in household[1]
    history = rows(page, "history")
    assert len(history) == 2
    assert 'data-kind="immigration"' in history[0] and "国外転入" in history[0]
    assert 'data-kind="relocation"' in history[1] and "令和8年4月1日" in history[1]
    assert 'id="certificates"' in page and "発行された電子証明書はありません" in page
    for kind in ("relocation", "move-out", "name-change", "death", "resident-code-change"):
        assert (f'class="change-link" data-kind="{kind}" '
                f'href="/counter/changes/new/{kind}?resident={head}"') in page
    assert f'id="copy-link" href="/counter/residents/{head}/copy"' in page
    assert f'id="enrol-link" href="/counter/residents/{head}/enrol"' in page
    assert audited(services, "record.view") == 1 and audited(services, "record.history") == 1


def test_individual_number_is_masked_unless_asked_by_an_entitled_role(
        client: FlaskClient, services: Services) -> None:
    head, _ = family(services)
    number = services.register().record(head, operator="clerk").individual_number
    login(client, "auditor")
    page = client.get(f"/counter/residents/{head}?show_number=1").get_data(as_text=True)
    if number:
        assert number not in page and number[-4:] in page
    assert 'class="change-link"' not in page and 'id="copy-link"' not in page
    assert 'id="record"' in page  # auditors read
    client.post("/counter/logout")
    login(client, "clerk")
    masked = client.get(f"/counter/residents/{head}").get_data(as_text=True)
    if number:
        assert number not in masked and 'id="show-number"' in masked
        shown = client.get(f"/counter/residents/{head}?show_number=1").get_data(as_text=True)
        assert number in shown


def test_unknown_or_malformed_resident_is_a_japanese_page(client: FlaskClient) -> None:
    login(client, "clerk")
    unknown = client.get("/counter/residents/24727059608")
    assert unknown.status_code == 404 and unknown.mimetype == "text/html"
    assert "住民基本台帳に見つかりません" in unknown.get_data(as_text=True)
    malformed = client.get("/counter/residents/24727059609")
    assert malformed.status_code == 400 and "11桁" in malformed.get_data(as_text=True)


def test_certificates_table_and_its_fragment(client: FlaskClient, services: Services,
                                             jpki: Jpki, card_instance: Path,
                                             clock: FrozenClock) -> None:
    head, _ = family(services)
    enrol_card(jpki, card_instance, head)
    clock.advance(timedelta(minutes=1))
    login(client, "clerk")
    page = client.get(f"/counter/residents/{head}").get_data(as_text=True)
    certificates = rows(page, "certificates")
    assert len(certificates) == 2
    assert {re.search(r'data-kind="(\w+)"', r).group(1) for r in certificates} == {  # type: ignore[union-attr]
        "sign", "auth"}
    assert all('data-status="valid"' in r and "有効" in r for r in certificates)
    assert "署名用電子証明書" in page and "利用者証明用電子証明書" in page
    assert 'id="certificates-watch"' not in page  # nothing changed lately: no re-reading
    # A relocation changes the basic four: the signing certificate is revoked, once the tiers
    # and the revocation worker have run (threads of `jpki serve`).
    services.register().perform("clerk", Relocation(resident_codes=[head], address="東町1番"))
    workers.drain(services.sessions, services.clock)
    services.revocation.run_once()
    fragment = client.get(f"/counter/residents/{head}/certificates")
    assert fragment.status_code == 200
    text = fragment.get_data(as_text=True)
    assert text.lstrip().startswith('<table id="certificates"')
    status = dict(re.findall(r'data-kind="(\w+)" data-serial="[0-9a-f]+" '
                             r'data-status="(\w+)"', text))
    assert status == {"sign": "revoked", "auth": "valid"}
    assert "失効" in text and "基本4情報の変更" in text


def test_a_former_resident_code_leads_to_the_current_record(client: FlaskClient,
                                                            services: Services) -> None:
    from jukibridge.change_requests import ResidentCodeChange

    head, _ = family(services)
    register = services.register()
    change_id = register.enter("clerk", ResidentCodeChange(resident_code=head))
    new_code = register.commit("chief", change_id).resident_codes[0]
    login(client, "clerk")
    response = client.get(f"/counter/residents/{head}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/counter/residents/{new_code}"
