"""The audit chain detects tampering; operators are locked out after repeated failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import audit, operators
from jukibridge.errors import AuditChainBroken, AuthenticationFailed
from jukibridge.register import Register
from jukibridge.tables import AuditEntry, AuditHead, Operator
from pki.clock import FrozenClock
from tests.conftest import PASSWORD
from tests.storage.helpers import arrive


def test_an_untouched_chain_verifies(register: Register,
                                     sessions: sessionmaker[Session]) -> None:
    arrive(register)
    with sessions() as s:
        report = audit.verify(s)
        assert report.entries == audit.count(s) > 5


@pytest.mark.parametrize("tamper", ["edit", "delete", "rehash"])
def test_a_tampered_chain_is_detected(register: Register, sessions: sessionmaker[Session],
                                      tamper: str) -> None:
    arrive(register)
    with sessions() as s, s.begin():
        if tamper == "edit":
            s.execute(update(AuditEntry).where(AuditEntry.entry_id == 3)
                      .values(actor="somebody-else"))
        elif tamper == "delete":
            s.execute(delete(AuditEntry).where(AuditEntry.entry_id == 3))
        else:  # edit and recompute the entry's own hash: the next entry no longer fits
            entry = s.get(AuditEntry, 3)
            assert entry is not None
            entry.details = '{"forged":true}'
            entry.entry_hash = audit._entry_hash(entry.prev_hash, entry)
    with sessions() as s, pytest.raises(AuditChainBroken) as caught:
        audit.verify(s)
    assert caught.value.fields["entry_id"] in (3, 4)


def _truncate(session: Session, keep: int, *, rewind_head: bool) -> None:
    """Delete the entries after ``keep``; an intruder who knows the schema rewinds the head."""
    session.execute(delete(AuditEntry).where(AuditEntry.entry_id > keep))
    if rewind_head:
        last = session.get(AuditEntry, keep)
        assert last is not None
        session.execute(update(AuditHead).values(entry_id=keep, prev_hash=last.prev_hash,
                                                 entry_hash=last.entry_hash))


def test_entries_removed_from_the_end_are_caught_by_the_chain_head(
        register: Register, sessions: sessionmaker[Session]) -> None:
    arrive(register)
    with sessions() as s:
        entries = audit.verify(s).entries
    with sessions() as s, s.begin():
        _truncate(s, entries - 2, rewind_head=False)
    with sessions() as s, pytest.raises(AuditChainBroken, match="removed from the end") as caught:
        audit.verify(s)
    assert caught.value.fields["entry_id"] == entries - 1


def test_entries_removed_from_the_end_are_caught_by_the_witness(
        register: Register, sessions: sessionmaker[Session]) -> None:
    arrive(register)
    with sessions() as s:
        witness = audit.verify(s)
    with sessions() as s, s.begin():
        _truncate(s, witness.entries - 1, rewind_head=True)
    with sessions() as s:
        assert audit.verify(s).entries == witness.entries - 1  # the shorter chain still fits
        with pytest.raises(AuditChainBroken, match="removed from the end"):
            audit.verify(s, witness=witness)


def test_a_rewritten_tail_differs_from_the_witness(register: Register,
                                                   sessions: sessionmaker[Session],
                                                   clock: FrozenClock) -> None:
    arrive(register)
    with sessions() as s:
        witness = audit.verify(s)
    with sessions() as s, s.begin():
        _truncate(s, witness.entries - 1, rewind_head=True)
        audit.record(s, clock, actor="intruder", action="register.read", target="x")
    with sessions() as s, pytest.raises(AuditChainBroken, match="differs") as caught:
        audit.verify(s, witness=witness)
    assert caught.value.fields["entry_id"] == witness.entries
    arrive(register, name="後来　次郎", kana="コウライ　ジロウ")
    with sessions() as s:  # a longer, untouched chain still holds the witnessed head
        assert audit.verify(s, witness=audit.verify(s)).entries == audit.count(s)


def test_lockout_after_repeated_failures(sessions: sessionmaker[Session], register: Register,
                                         clock: FrozenClock) -> None:
    for _ in range(operators.MAX_FAILURES):
        with sessions() as s, s.begin(), pytest.raises(AuthenticationFailed):
            operators.authenticate(s, clock, "clerk", "wrong password!")
        # the failure is recorded even though authentication raised
    with sessions() as s:
        row = s.get(Operator, "clerk")
        assert row is not None and row.locked_until is not None
    with sessions() as s, pytest.raises(AuthenticationFailed, match="locked"):
        operators.authenticate(s, clock, "clerk", PASSWORD)
    clock.advance(operators.LOCKOUT + timedelta(seconds=1))
    with sessions() as s, s.begin():
        operators.authenticate(s, clock, "clerk", PASSWORD)


def test_passwords_are_stored_as_argon2_hashes(sessions: sessionmaker[Session],
                                               register: Register) -> None:
    with sessions() as s:
        stored = s.scalar(select(Operator.password_hash).where(Operator.login == "clerk"))
    assert stored is not None and stored.startswith("$argon2") and PASSWORD not in stored


def test_reads_are_audited_and_the_chain_holds_under_concurrent_writers(
        register: Register, sessions: sessionmaker[Session]) -> None:
    """Lookups (one statement on PostgreSQL) and changes from several threads at once: every
    read has its entry, no change fails, and the chain verifies."""
    import threading

    from jukibridge.change_requests import Relocation

    codes = [arrive(register, name=f"読取　{i}郎", kana="ヨミトリ　タロウ") for i in range(4)]
    with sessions() as s:
        before = audit.count(s)
    errors: list[BaseException] = []

    def read(code: str) -> None:
        try:
            for _ in range(25):
                assert register.record(code, operator="auditor").resident_code == code
        except BaseException as exc:
            errors.append(exc)

    def move(code: str) -> None:
        try:
            for i in range(5):
                register.perform("clerk", Relocation(resident_codes=[code],
                                                     address=f"東町{i + 1}番1号"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(c,)) for c in codes]
    threads += [threading.Thread(target=move, args=(c,)) for c in codes[:2]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sessions() as s:
        report = audit.verify(s)
        views = s.scalars(select(AuditEntry).where(AuditEntry.action == "record.view")).all()
    assert report.entries == before + 4 * 25 + 2 * 5
    assert len(views) == 4 * 25 and {v.actor for v in views} == {"auditor"}
