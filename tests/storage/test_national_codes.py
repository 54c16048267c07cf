"""National services: resident-code pools and individual numbers."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import numbering
from jukibridge.change_requests import Cancellation, ResidentCodeChange
from jukibridge.codes import is_valid_individual_number, is_valid_resident_code
from jukibridge.register import Register
from jukibridge.tables import CodePoolEntry, IssuedCode
from pki.clock import FrozenClock
from tests.conftest import MUNICIPALITY
from tests.storage.helpers import arrive


def _pool(sessions: sessionmaker[Session], code: str = MUNICIPALITY) -> list[CodePoolEntry]:
    with sessions() as session:
        return list(session.scalars(select(CodePoolEntry).where(
            CodePoolEntry.municipality_code == code)))


def test_codes_come_from_a_pool_the_national_server_fills(
        register: Register, sessions: sessionmaker[Session]) -> None:
    assert _pool(sessions) == []
    code = arrive(register)
    pool = _pool(sessions)
    assert len(pool) == numbering.POOL_BATCH
    assert [e.resident_code for e in pool if e.used_at is not None] == [code]
    assert all(is_valid_resident_code(e.resident_code) for e in pool)
    with sessions() as session:
        registry = {r.value: r for r in session.scalars(select(IssuedCode).where(
            IssuedCode.kind == "resident_code"))}
    assert set(registry) == {e.resident_code for e in pool}
    assert {r.municipality_code for r in registry.values()} == {MUNICIPALITY}


def test_a_low_pool_asks_for_another_batch(register: Register,
                                           sessions: sessionmaker[Session]) -> None:
    arrive(register)
    with sessions() as session, session.begin():  # use up all but the low-water mark
        unused = [e.resident_code for e in session.scalars(select(CodePoolEntry).where(
            CodePoolEntry.used_at.is_(None)))]
        spare = unused[:numbering.POOL_LOW_WATER - 1]
        session.execute(update(CodePoolEntry).where(
            CodePoolEntry.resident_code.in_(set(unused) - set(spare)))
            .values(used_at=CodePoolEntry.received_at))
    arrive(register, name="佐藤　次郎", kana="サトウ　ジロウ")
    pool = _pool(sessions)
    assert len(pool) == 2 * numbering.POOL_BATCH
    assert sum(1 for e in pool if e.used_at is None) == (
        numbering.POOL_LOW_WATER - 1 + numbering.POOL_BATCH - 1)


def test_codes_are_never_reused(register: Register, sessions: sessionmaker[Session]) -> None:
    first = arrive(register)
    outcome = register.enter("clerk", ResidentCodeChange(resident_code=first))
    second = register.commit("chief", outcome).resident_codes[0]
    cancel = register.enter("clerk", Cancellation(change_id=outcome))
    register.commit("chief", cancel)
    third = arrive(register, name="佐藤　次郎", kana="サトウ　ジロウ")
    assert len({first, second, third}) == 3
    used = [e.resident_code for e in _pool(sessions) if e.used_at is not None]
    assert sorted(used) == sorted([first, second, third])


def test_individual_numbers_are_drawn_by_the_national_server(
        register: Register, sessions: sessionmaker[Session]) -> None:
    number = register.record(arrive(register), operator="clerk").individual_number
    assert number is not None and is_valid_individual_number(number)
    with sessions() as session:
        (body,) = session.scalars(select(IssuedCode).where(
            IssuedCode.kind == "individual_number")).all()
    assert body.value == number[:11] and len(body.value) == 11
    assert body.municipality_code == MUNICIPALITY


def test_pools_of_two_municipalities_never_overlap(register: Register, hiratsuka: str,
                                                   sessions: sessionmaker[Session],
                                                   clock: FrozenClock) -> None:
    with sessions() as session, session.begin():
        numbering.hand_out_resident_codes(session, clock, MUNICIPALITY)
        numbering.hand_out_resident_codes(session, clock, hiratsuka)
    ours = {e.resident_code for e in _pool(sessions)}
    theirs = {e.resident_code for e in _pool(sessions, hiratsuka)}
    assert len(ours) == len(theirs) == numbering.POOL_BATCH and not ours & theirs
