"""Wide-area copies (広域交付): issued anywhere, printed without domicile or codes, logged twice."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import audit
from jukibridge.change_requests import Death
from jukibridge.copies import issue_copy
from jukibridge.copy_pdf import render_pdf
from jukibridge.errors import InvalidInput, NotFound, PermissionDenied
from jukibridge.register import Register
from jukibridge.tables import AuditEntry
from pki.clock import FrozenClock
from tests.conftest import MUNICIPALITY
from tests.storage.conftest import HIRATSUKA, Jpki
from tests.storage.helpers import arrive

DOMICILE = "埼玉県所沢市並木三丁目1番地"


def pdf_text(pdf: bytes) -> str:
    """The page text without whitespace, so that wrapped lines read as one."""
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    return "".join(text.split())


def audit_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return audit.count(s)


def test_copy_of_a_resident_of_another_municipality(
        register: Register, hiratsuka: str, sessions: sessionmaker[Session],
        clock: FrozenClock) -> None:
    code = arrive(register)
    record = register.record(code, operator="clerk")
    assert record.individual_number and record.domicile == DOMICILE

    copy = issue_copy(sessions, clock, at=hiratsuka, resident_code=code, operator="h-clerk")
    assert copy.wide_area and not copy.removed
    assert (copy.issuing_name, copy.home_name) == ("神奈川県平塚市", "埼玉県所沢市")
    assert copy.issued_on == date(2026, 4, 1)
    assert copy.head_name == "山田　花子" and copy.relationship == "世帯主"

    text = pdf_text(render_pdf(copy))
    for item in ("住民票の写し（広域交付）", "山田花子", "ヤマダハナコ", "平成2年5月3日", "女",
                 "埼玉県所沢市並木三丁目1番1号", "アメリカ合衆国", "令和8年4月1日",
                 "神奈川県平塚市長", "世帯主"):
        assert item in text, item
    for secret in (DOMICILE, "並木三丁目1番地", code, record.individual_number):
        assert secret not in text, secret
    assert "本籍" not in text.replace("本籍、筆頭者及び住民票コードの記載は省略", "")

    with sessions() as s:
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action.like("copy.%"))
                            .order_by(AuditEntry.entry_id)).all()
        assert [(e.action, e.municipality_code, e.actor) for e in entries] == [
            ("copy.issue", HIRATSUKA, "h-clerk"), ("copy.provide", MUNICIPALITY, "h-clerk")]
        assert entries[0].entry_id == copy.copy_id
        assert entries[0].target == entries[1].target == f"person:{record.person_id}"
        assert json.loads(entries[1].details) == {"to": HIRATSUKA, "copy": copy.copy_id}
        for entry in entries:
            assert code not in entry.details and record.individual_number not in entry.details
        audit.verify(s)


def test_the_pdf_depends_only_on_the_copy(register: Register, hiratsuka: str,
                                          sessions: sessionmaker[Session],
                                          clock: FrozenClock) -> None:
    code = arrive(register)
    copy = issue_copy(sessions, clock, at=hiratsuka, resident_code=code, operator="h-clerk")
    pdf = render_pdf(copy)
    assert pdf.startswith(b"%PDF-") and render_pdf(copy) == pdf
    assert b"D:20260401100000+09'00'" in pdf  # the issue time, not the wall clock


def test_copy_of_a_removed_record_is_marked(register: Register, hiratsuka: str,
                                            sessions: sessionmaker[Session],
                                            clock: FrozenClock) -> None:
    code = arrive(register)
    register.perform("chief", Death(resident_code=code), effective_on=date(2026, 3, 30))
    copy = issue_copy(sessions, clock, at=hiratsuka, resident_code=code, operator="h-clerk")
    assert copy.removed
    text = pdf_text(render_pdf(copy))
    assert "除票" in text and "死亡" in text and "令和8年3月30日" in text


def test_copy_at_home_is_an_ordinary_copy(register: Register, sessions: sessionmaker[Session],
                                          clock: FrozenClock) -> None:
    code = arrive(register)
    before = audit_count(sessions)
    copy = issue_copy(sessions, clock, at=MUNICIPALITY, resident_code=code, operator="clerk")
    assert not copy.wide_area
    assert audit_count(sessions) == before + 1  # one end only: no copy.provide
    text = pdf_text(render_pdf(copy))
    assert "広域交付" not in text and DOMICILE not in text and code not in text


def test_refusals_change_nothing(register: Register, hiratsuka: str,
                                 sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    code = arrive(register)
    before = audit_count(sessions)
    cases: list[tuple[type[Exception], str, str, str]] = [
        (NotFound, HIRATSUKA, "24727059608", "h-clerk"),  # well-formed, held by no record
        (InvalidInput, HIRATSUKA, code[:-1] + str((int(code[-1]) + 1) % 10), "h-clerk"),
        (InvalidInput, HIRATSUKA, "12345", "h-clerk"),
        (InvalidInput, "142035", code, "h-clerk"),  # wrong check digit of the municipality
        (NotFound, "131016", code, "h-clerk"),  # 千代田区 keeps no register here
        (PermissionDenied, HIRATSUKA, code, "clerk"),  # 所沢's clerk at 平塚's counter
        (PermissionDenied, HIRATSUKA, code, "h-auditor"),
        (PermissionDenied, MUNICIPALITY, code, "auditor"),
        (PermissionDenied, HIRATSUKA, code, "nobody"),
    ]
    for error, at, resident_code, operator in cases:
        with pytest.raises(error):
            issue_copy(sessions, clock, at=at, resident_code=resident_code, operator=operator)
    assert audit_count(sessions) == before


def test_issue_from_the_shell(jpki: Jpki, register: Register, hiratsuka: str,
                              tmp_path: Path) -> None:
    code = arrive(register)
    target = tmp_path / "copy.pdf"
    out = jpki("copy", "issue", "--at", hiratsuka, code, "-o", str(target),
               "--operator", "h-clerk").output
    assert "神奈川県平塚市" in out and "埼玉県所沢市" in out
    text = pdf_text(target.read_bytes())
    assert "山田花子" in text and code not in text and DOMICILE not in text
    refused = jpki("copy", "issue", "--at", hiratsuka, code, "-o", str(tmp_path / "no.pdf"),
                   "--operator", "clerk", ok=False)
    assert refused.exit_code == 1 and "not an operator" in refused.output
    assert not (tmp_path / "no.pdf").exists()

