"""The synthetic population generator, on each backend."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import audit, notices, workers
from jukibridge.change_requests import Relocation
from jukibridge.codes import is_valid_individual_number, is_valid_resident_code
from jukibridge.errors import InvalidInput, NotFound
from jukibridge.kana import KATAKANA_NAME
from jukibridge.population import generate
from jukibridge.records import HEAD
from jukibridge.register import Register
from jukibridge.tables import AuditEntry, Household, IssuedCode, Person, Snapshot
from jukibridge.tier_tables import CsOutboxEvent, NationalIdentity
from pki.clock import FrozenClock
from tests.conftest import MUNICIPALITY
from tests.storage.helpers import arrive

SIZE = 400


def _snapshots(sessions: sessionmaker[Session]) -> list[Snapshot]:
    with sessions() as session:
        return list(session.scalars(select(Snapshot).order_by(Snapshot.person_id)))


def test_generates_realistic_households(sessions: sessionmaker[Session], clock: FrozenClock,
                                        register: Register) -> None:
    report = generate(sessions, clock, MUNICIPALITY, SIZE, seed=7)
    assert report.residents == SIZE
    rows = _snapshots(sessions)
    assert len(rows) == SIZE and report.households == len({r.household_id for r in rows})
    heads = Counter(r.household_id for r in rows if r.relationship == HEAD)
    assert set(heads.values()) == {1}, "every household has exactly one head"
    assert len(heads) == report.households
    assert 1.5 < SIZE / report.households < 4, "households of a realistic size"
    assert all(r.address.startswith("埼玉県所沢市") for r in rows)
    assert all(KATAKANA_NAME.fullmatch(r.name_kana) for r in rows)
    codes = [r.resident_code for r in rows]
    numbers = [r.individual_number for r in rows]
    assert len(set(codes)) == SIZE and all(is_valid_resident_code(c) for c in codes)
    assert len(set(numbers)) == SIZE
    assert all(n is not None and is_valid_individual_number(n) for n in numbers)
    foreign = [r for r in rows if r.foreign_resident]
    assert 0 < len(foreign) < SIZE * 0.1
    assert all(r.nationality and r.residence_status and r.domicile is None for r in foreign)
    assert all(r.domicile and r.domicile_head for r in rows if not r.foreign_resident)
    assert any(r.electoral_roll for r in rows) and any(r.long_term_care for r in rows)
    assert not any(r.electoral_roll for r in foreign)
    with sessions() as session:
        issued = set(session.scalars(select(IssuedCode.value)))
        assert set(codes) <= issued
        assert {n[:11] for n in numbers if n} <= issued  # the national server's 11 digits
        entry = session.scalars(select(AuditEntry).where(
            AuditEntry.action == "population.generate")).one()
        assert entry.target == MUNICIPALITY
        audit.verify(session)


def test_generated_residents_are_ordinary_records(sessions: sessionmaker[Session],
                                                  clock: FrozenClock, register: Register) -> None:
    """Lookups work, and later changes take fresh ids after the bulk load (PG sequences)."""
    before = arrive(register, name="先住　一郎", kana="センジュウ　イチロウ")
    generate(sessions, clock, MUNICIPALITY, 50, seed=1)
    someone = _snapshots(sessions)[-1]
    record = register.record(someone.resident_code, operator="clerk")
    assert record.name == someone.name and record.seq == 1
    register.perform("clerk", Relocation(resident_codes=[someone.resident_code],
                                         address="東町5番8号"))
    assert register.record(someone.resident_code, operator="clerk").seq == 2
    after = arrive(register, name="後来　花子", kana="コウライ　ハナコ")
    assert len({before, after, someone.resident_code}) == 3
    assert register.record(after, operator="clerk").household_id != record.household_id


def test_the_same_seed_gives_the_same_people(sessions: sessionmaker[Session],
                                             clock: FrozenClock, register: Register) -> None:
    generate(sessions, clock, MUNICIPALITY, 60, seed=42)
    first = [(r.name, r.name_kana, r.birth_date, r.relationship) for r in _snapshots(sessions)]
    generate(sessions, clock, MUNICIPALITY, 60, seed=42)
    second = [(r.name, r.name_kana, r.birth_date, r.relationship)
              for r in _snapshots(sessions)][60:]
    assert first == second


def _counts(sessions: sessionmaker[Session]) -> tuple[int, int, int, int]:
    with sessions() as session:
        return (session.scalar(select(func.count()).select_from(Person)) or 0,
                session.scalar(select(func.count()).select_from(Household)) or 0,
                session.scalar(select(func.count()).select_from(IssuedCode)) or 0,
                session.scalar(select(func.count()).select_from(AuditEntry)) or 0)


@pytest.mark.parametrize("size", [0, -5, 5_000_001])
def test_bad_size_is_refused_and_changes_nothing(sessions: sessionmaker[Session],
                                                 clock: FrozenClock, size: int) -> None:
    before = _counts(sessions)
    with pytest.raises(InvalidInput, match="size"):
        generate(sessions, clock, MUNICIPALITY, size)
    assert _counts(sessions) == before


@pytest.mark.parametrize("code", ["142034", "999999"])
def test_a_municipality_without_a_register_is_refused(sessions: sessionmaker[Session],
                                                      clock: FrozenClock, code: str) -> None:
    before = _counts(sessions)
    with pytest.raises(NotFound):
        generate(sessions, clock, code, 10)
    assert _counts(sessions) == before


def test_generated_residents_reach_the_upper_tiers(sessions: sessionmaker[Session],
                                                   clock: FrozenClock, register: Register) -> None:
    generate(sessions, clock, MUNICIPALITY, 120, seed=3, batch=50)
    assert workers.drain(sessions, clock) == 2 * 120  # prefecture, then national
    with sessions() as session:
        outbox = session.scalars(select(CsOutboxEvent.origin_seq)
                                 .order_by(CsOutboxEvent.origin_seq)).all()
        assert list(outbox) == list(range(1, 121))
        national = {i.resident_code for i in session.scalars(select(NationalIdentity))}
        assert national == {r.resident_code for r in _snapshots(sessions)}
        assert notices.read(session) == [], "arrivals are not revocations"
