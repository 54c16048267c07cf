"""Consent to the latest basic four service at the counter: given and withdrawn after the
identity check, recorded with the counter as its channel and audited; refused without the
identity document and to an auditor."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select

from jukibridge.register import Register
from jukibridge.tables import AuditEntry
from revocation.consents import Channel, ConsentState, current, history
from tests.storage.helpers import arrive
from tests.web.conftest import login, post_form
from web.services import Services


def test_consent_is_given_and_withdrawn_at_the_counter(client: FlaskClient, register: Register,
                                                       services: Services) -> None:
    code = arrive(register)
    login(client, "clerk")
    page = f"/counter/residents/{code}"
    assert 'data-state="none"' in client.get(page).get_data(as_text=True)
    url = f"{page}/consent"
    given = post_form(client, url, {"action": "give", "identity_document": "運転免許証"},
                      form_page=page, follow_redirects=True)
    assert 'data-state="given"' in given.get_data(as_text=True)
    assert "同意を登録しました" in given.get_data(as_text=True)
    post_form(client, url, {"action": "withdraw", "identity_document": "旅券"}, form_page=page)
    assert current(services.sessions, code) is ConsentState.WITHDRAWN
    assert [(c.state, c.channel) for c in history(services.sessions, code)] == [
        (ConsentState.GIVEN, Channel.COUNTER), (ConsentState.WITHDRAWN, Channel.COUNTER)]
    with services.sessions() as session:
        actions = list(session.scalars(select(AuditEntry.action).where(
            AuditEntry.target == f"resident:{code}")))
    assert actions == ["consent.give", "consent.withdraw"]


def test_no_identity_document_changes_nothing(client: FlaskClient, register: Register,
                                              services: Services) -> None:
    code = arrive(register)
    login(client, "clerk")
    page = f"/counter/residents/{code}"
    refused = post_form(client, f"{page}/consent", {"action": "give", "identity_document": ""},
                        form_page=page, follow_redirects=True)
    assert "本人確認書類を入力してください" in refused.get_data(as_text=True)
    assert current(services.sessions, code) is ConsentState.NONE


def test_an_auditor_cannot_record_a_consent(client: FlaskClient, register: Register,
                                            services: Services) -> None:
    code = arrive(register)
    token_page = f"/counter/residents/{code}"
    login(client, "auditor")
    page = client.get(token_page).get_data(as_text=True)
    assert 'id="consent-form"' not in page
    response = post_form(client, f"{token_page}/consent",
                         {"action": "give", "identity_document": "運転免許証"},
                         form_page="/counter/")
    assert response.status_code == 403
    assert current(services.sessions, code) is ConsentState.NONE
