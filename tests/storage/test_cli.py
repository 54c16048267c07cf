"""The command line end to end, on a fresh database of each backend."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from jukibridge.tables import AuditEntry, AuditHead
from tests.storage.conftest import Jpki


def test_init_is_idempotent(jpki: Jpki) -> None:
    first = jpki("init")
    assert "register 112089: already open" in first.output  # the template opened it
    assert "already open" in jpki("init").output


def test_change_show_and_history_from_the_shell(jpki: Jpki) -> None:
    out = jpki("change", "immigration", "--operator", "clerk", "--name", "山田 花子",
               "--name-kana", "やまだ はなこ", "--birth-date", "平成2年5月3日", "--sex", "女",
               "--address", "並木1番1号", "--previous-address", "アメリカ合衆国",
               "--domicile", "埼玉県所沢市並木1番地", "--domicile-head", "山田 花子",
               "--national-pension").output
    code = re.search(r"resident codes (\d{11})", out)
    assert code, out
    jpki("change", "relocation", "--operator", "clerk", "--resident-codes", code[1],
         "--address", "東町5番8号")
    shown = jpki("resident", "show", code[1], "--operator", "clerk").output
    assert "平成2年5月3日" in shown and "埼玉県所沢市東町5番8号" in shown
    assert "国民年金" in shown
    assert re.search(r"\*{8}\d{4}", shown), "the individual number is masked by default"
    history = jpki("resident", "history", code[1], "--operator", "clerk").output
    assert "国外転入" in history and "転居" in history


def test_supervisor_kinds_are_entered_as_drafts(jpki: Jpki) -> None:
    out = jpki("change", "immigration", "--operator", "clerk", "--name", "山田 花子",
               "--name-kana", "ヤマダ ハナコ", "--birth-date", "1990-05-03", "--sex", "2",
               "--address", "並木1番1号", "--previous-address", "中国",
               "--domicile", "埼玉県所沢市並木1番地").output
    code = re.search(r"resident codes (\d{11})", out)
    assert code
    drafted = jpki("change", "correction", "--operator", "clerk", "--resident-code", code[1],
                   "--items", "birth_date=1990-05-04").output
    change_id = re.search(r"draft (\d+) entered", drafted)
    assert change_id, drafted
    assert change_id[1] in jpki("change", "drafts").output
    refused = jpki("change", "commit", change_id[1], "--operator", "clerk", ok=False)
    assert refused.exit_code == 1 and "supervisor" in refused.output
    jpki("change", "commit", change_id[1], "--operator", "chief")
    assert "平成2年5月4日" in jpki("resident", "show", code[1], "--operator", "clerk").output


def test_bad_input_is_one_clear_line(jpki: Jpki) -> None:
    result = jpki("change", "death", "--operator", "clerk", "--resident-code", "24727059609",
                  ok=False)
    assert result.exit_code == 1
    assert result.output.strip() == "Error: resident_code has a wrong check digit"
    missing = jpki("change", "death", "--operator", "clerk", ok=False)
    assert "resident_code is required" in missing.output


def test_wrong_password_is_refused(jpki: Jpki, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JPKI_OPERATOR_PASSWORD", "not the password")
    result = jpki("resident", "find", "--kana", "ヤ", "--operator", "clerk", ok=False)
    assert result.exit_code == 1 and "wrong login or password" in result.output


def test_audit_verify_detects_tampering(jpki: Jpki, sessions: sessionmaker[Session]) -> None:
    assert "audit chain intact" in jpki("audit", "verify").output
    with sessions() as s, s.begin():
        s.execute(update(AuditEntry).where(AuditEntry.entry_id == 2).values(target="x"))
    result = jpki("audit", "verify", ok=False)
    assert result.exit_code == 1 and "audit entry 2 was altered" in result.output


def test_audit_verify_remembers_the_head(jpki: Jpki, sessions: sessionmaker[Session],
                                         tmp_path: Path) -> None:
    witness = tmp_path / "witness.json"
    assert "audit chain intact" in jpki("audit", "verify", "--witness", str(witness)).output
    assert witness.exists()
    with sessions() as s, s.begin():  # an intruder drops the newest entry and rewinds the head
        last, before = s.scalars(select(AuditEntry).order_by(AuditEntry.entry_id.desc())
                                 .limit(2)).all()
        s.delete(last)
        s.execute(update(AuditHead).values(entry_id=before.entry_id, prev_hash=before.prev_hash,
                                           entry_hash=before.entry_hash))
    assert "audit chain intact" in jpki("audit", "verify").output  # no witness at HOME yet
    result = jpki("audit", "verify", "--witness", str(witness), ok=False)
    assert result.exit_code == 1 and "removed from the end" in result.output


def test_demo_runs_and_says_what_it_did(jpki: Jpki) -> None:
    out = jpki("demo").output
    for step in ("国外転入", "出生", "転居", "誤記修正", "転出", "転入", "転入通知", "死亡",
                 "refused as expected", "audit chain intact", "住基ネット", "異動等失効情報",
                 "本人確認情報の提供", "refused and logged", "開示: 2 requests", "カード交付",
                 "revoked (affiliationChanged)", "certificate good", "検証: TOTAL_PASSED",
                 "検証 again: TOTAL_FAILED/REVOKED",
                 "署名"):
        assert step in out, out
