"""History is append-only: drafts stay invisible, fixes and cancellations append rows."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge.change_requests import (
    Birth,
    Cancellation,
    ClericalFix,
    Death,
    MoveOut,
    Relocation,
)
from jukibridge.errors import Conflict
from jukibridge.records import ChangeKind, RecordState, Sex
from jukibridge.register import Register
from jukibridge.tables import AuditEntry, Change, Snapshot
from pki.eras import PartialDate
from tests.storage.helpers import arrive


def snapshot_rows(sessions: sessionmaker[Session]) -> list[tuple[object, ...]]:
    with sessions() as s:
        return [tuple(getattr(r, c.key) for c in Snapshot.__table__.columns)
                for r in s.scalars(select(Snapshot).order_by(Snapshot.person_id, Snapshot.seq))]


def test_rows_written_once_never_change(register: Register,
                                        sessions: sessionmaker[Session]) -> None:
    code = arrive(register)
    first = snapshot_rows(sessions)
    register.perform("clerk", Relocation(resident_codes=[code], address="東町1番"))
    fix = register.enter("clerk", ClericalFix(resident_code=code, seq=1,
                                              items={"name_kana": "ヤマダ　ハナ"}))
    register.commit("chief", fix)
    register.perform("clerk", Death(resident_code=code))
    after = snapshot_rows(sessions)
    assert after[: len(first)] == first
    assert len(after) == 4


def test_a_draft_is_invisible_until_committed(register: Register) -> None:
    code = arrive(register)
    change_id = register.enter("clerk", Relocation(resident_codes=[code], address="東町1番"))
    assert register.record(code, operator="clerk").address.endswith("並木三丁目1番1号")
    assert len(register.history(code, operator="clerk")) == 1
    assert [d.change_id for d in register.drafts()] == [change_id]
    register.commit("clerk", change_id)
    assert register.record(code, operator="clerk").address.endswith("東町1番")
    assert register.drafts() == []


def test_a_rejected_draft_leaves_only_its_audit_entry(register: Register,
                                                      sessions: sessionmaker[Session]) -> None:
    code = arrive(register)
    change_id = register.enter("clerk", Relocation(resident_codes=[code], address="東町1番"))
    register.reject("chief", change_id, "wrong address")
    with sessions() as s:
        assert s.get(Change, change_id) is None
        actions = list(s.scalars(select(AuditEntry.action).where(
            AuditEntry.target == f"change:{change_id}").order_by(AuditEntry.entry_id)))
    assert actions == ["change.enter", "change.reject"]
    assert len(register.history(code, operator="clerk")) == 1


def test_a_draft_is_checked_again_when_committed(register: Register) -> None:
    code = arrive(register)
    first = register.enter("clerk", Death(resident_code=code))
    second = register.enter("clerk", Death(resident_code=code))
    register.commit("clerk", first)
    with pytest.raises(Conflict):
        register.commit("clerk", second)
    assert [d.change_id for d in register.drafts()] == [second]


def test_a_clerical_fix_appends_a_row_pointing_at_the_wrong_one(register: Register) -> None:
    code = arrive(register, birth="1990-05-03")
    fix = register.enter("clerk", ClericalFix(resident_code=code, seq=1,
                                              items={"birth_date": "1990-05-30"}))
    register.commit("chief", fix)
    history = register.history(code, operator="clerk")
    assert [r.kind for r in history] == [ChangeKind.IMMIGRATION, ChangeKind.CLERICAL_FIX]
    assert history[0].birth_date == PartialDate.parse("1990-05-03")
    assert history[1].birth_date == PartialDate.parse("1990-05-30")
    assert history[1].corrects_seq == 1


def test_cancellation_restores_the_previous_state_by_appending(register: Register) -> None:
    code = arrive(register)
    moved = register.perform("clerk", Relocation(resident_codes=[code], address="東町1番"))
    cancel = register.enter("clerk", Cancellation(change_id=moved.change_id))
    register.commit("chief", cancel)
    history = register.history(code, operator="clerk")
    assert [r.kind for r in history] == [ChangeKind.IMMIGRATION, ChangeKind.RELOCATION,
                                         ChangeKind.CANCELLATION]
    assert history[2].address == history[0].address and history[2].corrects_seq == 2
    assert register.change(moved.change_id).status.value == "cancelled"


def test_cancelling_a_birth_removes_the_new_record(register: Register) -> None:
    mother = arrive(register)
    baby = register.perform("clerk", Birth(parent_code=mother, name="山田　陽太",
                                           name_kana="ヤマダ　ヨウタ",
                                           birth_date=PartialDate.parse("2026-04-01"),
                                           sex=Sex.MALE))
    register.commit("chief", register.enter("clerk", Cancellation(change_id=baby.change_id)))
    record = register.record(baby.resident_codes[0], operator="clerk")
    assert record.state is RecordState.REMOVED
    assert record.removal_reason is ChangeKind.CANCELLATION


def test_cancelling_a_move_out_voids_its_certificate(register: Register) -> None:
    code = arrive(register)
    out = register.perform("clerk", MoveOut(resident_codes=[code], destination="平塚市"))
    register.commit("chief", register.enter("clerk", Cancellation(change_id=out.change_id)))
    assert register.record(code, operator="clerk").state is RecordState.ACTIVE


def test_a_change_followed_by_later_changes_cannot_be_cancelled(register: Register) -> None:
    code = arrive(register)
    moved = register.perform("clerk", Relocation(resident_codes=[code], address="東町1番"))
    register.perform("clerk", Relocation(resident_codes=[code], address="東町2番"))
    with pytest.raises(Conflict, match="later change"):
        register.enter("clerk", Cancellation(change_id=moved.change_id))


def test_removed_records_stay_queryable(register: Register,
                                        sessions: sessionmaker[Session]) -> None:
    code = arrive(register)
    register.perform("clerk", Death(resident_code=code))
    found = register.search(operator="clerk", name_kana="ヤマダ", include_removed=True)
    assert [r.resident_code for r in found] == [code]
    assert register.search(operator="clerk", name_kana="ヤマダ") == []
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Snapshot)) == 2
