"""The Juki-net tiers: CS outbox → prefecture → national → revocation-notice feed."""

from __future__ import annotations

import json
import random
from collections import Counter

import pytest
from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import notices, stores, workers
from jukibridge.change_requests import (
    Death,
    HouseholdChange,
    MinorCorrection,
    NameChange,
    Relocation,
    ResidentCodeChange,
)
from jukibridge.notices import NoticeKind
from jukibridge.register import Register
from jukibridge.tier_tables import (
    CsOutboxEvent,
    NationalEvent,
    NationalIdentity,
    PrefectureCursor,
    PrefectureEvent,
    PrefectureIdentity,
    RevocationNoticeRow,
)
from pki.clock import FrozenClock
from tests.storage.helpers import arrive


def _outbox(sessions: sessionmaker[Session]) -> list[CsOutboxEvent]:
    with sessions() as session:
        return list(session.scalars(select(CsOutboxEvent).order_by(CsOutboxEvent.origin_seq)))


def _feed(sessions: sessionmaker[Session]) -> list[notices.RevocationNotice]:
    with sessions() as session:
        return notices.read(session)


def test_a_committed_change_writes_numbered_events_and_a_draft_none(
        register: Register, sessions: sessionmaker[Session]) -> None:
    code = arrive(register)
    other = arrive(register, name="山田　太郎", kana="ヤマダ　タロウ", join=code,
                   relationship="夫")
    draft = register.enter("clerk", Relocation(resident_codes=[code], address="東町5番8号"))
    events = _outbox(sessions)
    assert [e.origin_seq for e in events] == [1, 2]
    assert [e.resident_code for e in events] == [code, other]
    assert json.loads(events[0].changed)[0] == "created"
    register.commit("clerk", draft)
    events = _outbox(sessions)
    assert [e.origin_seq for e in events] == [1, 2, 3]
    assert json.loads(events[2].changed) == ["address"]
    assert events[2].change_reason == "RELOCATION"


def test_only_identity_changes_leave_the_municipality(register: Register,
                                                      sessions: sessionmaker[Session]) -> None:
    head = arrive(register)
    child = arrive(register, name="山田　一郎", kana="ヤマダ　イチロウ", birth="2015-01-02",
                   join=head, relationship="子")
    before = len(_outbox(sessions))
    register.perform("clerk", HouseholdChange(action="split", resident_codes=[child]))
    assert len(_outbox(sessions)) == before, "a household change carries no identity info"


def test_upper_stores_hold_identity_info_only(register: Register,
                                              sessions: sessionmaker[Session],
                                              clock: FrozenClock) -> None:
    code = arrive(register)
    workers.drain(sessions, clock)
    forbidden = {"household_id", "relationship", "domicile", "domicile_head",
                 "national_health_insurance", "long_term_care", "national_pension",
                 "child_allowance", "electoral_roll", "nationality", "residence_status",
                 "name_kana", "previous_address"}
    with sessions() as session:
        inspector = inspect(session.get_bind())
        for table in inspector.get_table_names():
            if table.startswith(("prefecture_", "national_", "cs_")):
                columns = {c["name"] for c in inspector.get_columns(table)}
                assert not columns & forbidden, table
        for row_type in (PrefectureIdentity, NationalIdentity):
            identity = session.scalars(select(row_type)).one()
            values = {c.key: getattr(identity, c.key) for c in row_type.__table__.columns}
            assert values["resident_code"] == code and values["name"] == "山田　花子"
            stored = json.dumps(values, default=str, ensure_ascii=False)
            for secret in ("世帯主", "並木三丁目1番地", "ベトナム"):  # relationship, domicile
                assert secret not in stored


def test_notices_follow_the_rules(register: Register, sessions: sessionmaker[Session],
                                  clock: FrozenClock) -> None:
    moved = arrive(register)
    renamed = arrive(register, name="佐藤　次郎", kana="サトウ　ジロウ", birth="1970-02-03")
    dead = arrive(register, name="鈴木　三郎", kana="スズキ　サブロウ", birth="1930-05-06")
    fixed = arrive(register, name="髙橋　四郎", kana="タカハシ　シロウ", birth="1980-07-08")
    workers.drain(sessions, clock)
    assert _feed(sessions) == [], "births and arrivals are not revocations"
    register.perform("clerk", Relocation(resident_codes=[moved], address="東町5番8号"))
    register.perform("clerk", NameChange(resident_code=renamed, name="田中　次郎",
                                         name_kana="タナカ　ジロウ", former_surname="佐藤"))
    register.perform("clerk", Death(resident_code=dead))
    register.perform("clerk", MinorCorrection(resident_code=fixed, name="高橋　四郎"))
    workers.drain(sessions, clock)
    feed = _feed(sessions)
    assert [(n.resident_code, n.kind, n.changed) for n in feed] == [
        (moved, NoticeKind.BASIC_FOUR_CHANGED, ("address",)),
        (renamed, NoticeKind.BASIC_FOUR_CHANGED, ("name",)),
        (dead, NoticeKind.RECORD_REMOVED, ()),
    ]
    assert [n.seq for n in feed] == [1, 2, 3]
    assert feed[2].effective_on == register.today()
    with sessions() as session:
        assert notices.read(session, after_seq=2) == feed[2:]
        national = session.scalars(select(NationalIdentity).where(
            NationalIdentity.resident_code == fixed)).one()
        assert national.name == "高橋　四郎", "the minor correction still reaches the top"


def test_a_resident_code_change_rekeys_the_upper_tiers(register: Register,
                                                       sessions: sessionmaker[Session],
                                                       clock: FrozenClock) -> None:
    old = arrive(register)
    workers.drain(sessions, clock)
    draft = register.enter("clerk", ResidentCodeChange(resident_code=old))
    new = register.commit("chief", draft).resident_codes[0]
    workers.drain(sessions, clock)
    with sessions() as session:
        for row_type in (PrefectureIdentity, NationalIdentity):
            identity = session.scalars(select(row_type)).one()
            assert identity.resident_code == new
            assert json.loads(identity.former_codes) == [old]
    (notice,) = _feed(sessions)
    assert notice.kind is NoticeKind.RESIDENT_CODE_CHANGED
    assert (notice.resident_code, notice.previous_resident_code) == (new, old)


def test_a_resent_event_is_applied_once(register: Register, sessions: sessionmaker[Session],
                                        clock: FrozenClock) -> None:
    code = arrive(register)
    register.perform("clerk", Relocation(resident_codes=[code], address="東町5番8号"))
    workers.drain(sessions, clock)
    with sessions() as session, session.begin():  # rewind the prefecture's cursor
        session.execute(update(PrefectureCursor).values(last_seq=0))
    assert workers.drain(sessions, clock) == 0
    with sessions() as session:
        assert len(session.scalars(select(PrefectureEvent)).all()) == 2
        assert len(session.scalars(select(NationalEvent)).all()) == 2
    assert len(_feed(sessions)) == 1


class Crash(Exception):
    pass


@pytest.mark.parametrize("seed", [1, 2])
def test_workers_crashing_mid_batch_lose_and_duplicate_nothing(
        register: Register, sessions: sessionmaker[Session], clock: FrozenClock,
        monkeypatch: pytest.MonkeyPatch, seed: int) -> None:
    """Kill the workers at random points of their rounds, over and over, while the counter keeps
    committing; every event then arrives exactly once at every tier and in the feed."""
    rng = random.Random(seed)

    def flaky(real):  # type: ignore[no-untyped-def]
        def crash_sometimes(*args, **kwargs):  # type: ignore[no-untyped-def]
            if rng.random() < 0.1:
                raise Crash("worker killed")
            result = real(*args, **kwargs)
            if rng.random() < 0.1:
                raise Crash("worker killed after the write")
            return result
        return crash_sometimes

    for module, name in ((stores, "unseen"), (stores, "apply_identities"),
                         (notices, "append_all")):
        monkeypatch.setattr(module, name, flaky(getattr(module, name)))
    codes = [arrive(register, name=f"試験　{i}郎", kana="シケン　タロウ") for i in range(6)]
    crashes = 0
    for step in range(40):
        if step < 24:
            register.perform("clerk", Relocation(resident_codes=[rng.choice(codes)],
                                                 address=f"東町{step + 1}番1号"))
        for kind in workers.KINDS:
            try:
                workers.round_of(kind, sessions, clock, batch=rng.randint(1, 5))
            except Crash:
                crashes += 1
    monkeypatch.undo()
    workers.drain(sessions, clock)
    assert crashes > 5
    sent = [e.event_id for e in _outbox(sessions)]
    with sessions() as session:
        at_prefecture = session.scalars(select(PrefectureEvent.event_id)).all()
        at_national = session.scalars(select(NationalEvent.event_id)).all()
        noticed = session.scalars(select(RevocationNoticeRow.event_id)).all()
        prefecture_order = session.scalars(select(PrefectureEvent.origin_seq)
                                           .order_by(PrefectureEvent.seq)).all()
        addresses = {i.resident_code: i.address for i in session.scalars(
            select(NationalIdentity))}
    assert Counter(at_prefecture) == Counter(sent) == Counter(at_national)
    assert len(noticed) == len(set(noticed)) == 24  # one per relocation
    assert list(prefecture_order) == sorted(prefecture_order), "delivered in sequence order"
    for code in codes:
        assert addresses[code] == register.record(code, operator="clerk").address
