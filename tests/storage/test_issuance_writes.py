"""The issuance's two writes on the database driver: rows exactly as SQLAlchemy writes them,
all of a transaction or none of it, SQLite's write lock waited for."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ca import sqlite_lock
from ca.authority import CertificateAuthority
from ca.issuance_writes import IssuanceWrites
from ca.keystore import FileKeyStore
from ca.tables import IntendedCertificate, IssuedCertificate
from pki.clock import FrozenClock
from pki.profile import CertKind
from web.database import make_engine, make_sessions, migrate

JST = timezone(timedelta(hours=9))


def _intended(serial: int, created_at: datetime, **changes: object) -> dict[str, Any]:
    row: dict[str, Any] = {
        "issuer_key_id": "ab" * 20, "serial": str(serial), "kind": "sign",
        "resident_code": "24727059608", "card_id": "card-1", "partition": "112089",
        "tbs_certificate": bytes(range(256)) * 4, "created_at": created_at}
    row.update(changes)
    return row


def _issued(serial: int, at: datetime) -> dict[str, Any]:
    return {"issuer_key_id": "ab" * 20, "serial": str(serial), "kind": "auth",
            "resident_code": None, "card_id": "card-1", "partition": "112089",
            "not_before": at, "not_after": at + timedelta(days=1095),
            "certificate": b"\x30\x82" + bytes(1300), "issued_at": at}


def _intended_rows(sessions: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with sessions() as session:
        return [(r.issuer_key_id, r.serial, r.kind, r.resident_code, r.card_id, r.partition,
                 r.tbs_certificate, r.created_at)
                for r in session.scalars(select(IntendedCertificate)
                                         .order_by(IntendedCertificate.intended_id))]


def test_rows_read_back_through_sqlalchemy_exactly_as_given(
        sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    writes = IssuanceWrites(sessions)
    now = clock.now()
    in_tokyo = now.astimezone(JST)  # stored as the same instant, read back in UTC
    assert writes.record_intended([_intended(7, now), _intended(8, in_tokyo, resident_code=None,
                                                                 card_id=None)], {}) is None
    assert _intended_rows(sessions) == [
        ("ab" * 20, "7", "sign", "24727059608", "card-1", "112089", bytes(range(256)) * 4, now),
        ("ab" * 20, "8", "sign", None, None, "112089", bytes(range(256)) * 4, now)]
    assert _intended_rows(sessions)[1][-1].tzinfo == UTC

    writes.store_issued([_issued(7, now)])
    with sessions() as session:
        row = session.scalars(select(IssuedCertificate)).one()
        assert (row.serial, row.kind, row.resident_code, row.not_before, row.not_after,
                row.certificate, row.issued_at) == (
            "7", "auth", None, now, now + timedelta(days=1095), b"\x30\x82" + bytes(1300), now)


def test_the_stored_values_are_those_sqlalchemy_stores(
        sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    """Byte for byte in the database (SQLite's datetime text, say), not only once read back."""
    now = clock.now().astimezone(JST)
    IssuanceWrites(sessions).record_intended([_intended(1, now)], {})
    with sessions() as session, session.begin():
        session.add(IntendedCertificate(**_intended(2, now)))
    with sessions() as session:
        stored = session.execute(text(
            "SELECT issuer_key_id, kind, resident_code, card_id, partition, tbs_certificate, "
            "created_at FROM ca_intended ORDER BY serial")).all()
    assert len(stored) == 2 and tuple(stored[0]) == tuple(stored[1])


def test_a_serial_taken_writes_nothing_of_its_transaction(
        sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    writes = IssuanceWrites(sessions)
    now = clock.now()
    writes.record_intended([_intended(1, now)], {})
    with pytest.raises(IntegrityError):
        writes.record_intended([_intended(2, now), _intended(1, now)], {})
    assert [row[1] for row in _intended_rows(sessions)] == ["1"]

    writes.store_issued([_issued(1, now)])
    with pytest.raises(IntegrityError):
        writes.store_issued([_issued(2, now), _issued(1, now)])
    with sessions() as session:
        assert session.scalars(select(IssuedCertificate.serial)).all() == ["1"]
    writes.record_intended([_intended(3, now)], {})  # the connections are usable again
    assert [row[1] for row in _intended_rows(sessions)] == ["1", "3"]


def test_intended_rows_are_written_only_while_their_issuers_are_the_newest(
        sessions: sessionmaker[Session], clock: FrozenClock, tmp_path: Path) -> None:
    ca = CertificateAuthority(sessions, clock,
                              FileKeyStore(tmp_path / "keys", b"test passphrase, not a secret"),
                              "http://127.0.0.1:8000")
    ca.init()
    signing, auth = (ca.current(kind).key_id
                     for kind in (CertKind.SIGNING, CertKind.AUTHENTICATION))
    writes = IssuanceWrites(sessions)
    now = clock.now()
    current = {"sign": signing, "auth": auth}
    assert writes.record_intended([_intended(1, now)], current) is None

    ca.rollover(CertKind.AUTHENTICATION)
    newer = ca.current(CertKind.AUTHENTICATION).key_id
    assert writes.record_intended([_intended(2, now)], current) == {"sign": signing,
                                                                     "auth": newer}
    assert writes.record_intended([_intended(3, now)], {"sign": signing}) is None
    ours = [row[1] for row in _intended_rows(sessions) if row[0] == "ab" * 20]  # no links
    assert ours == ["1", "3"]


def test_sqlite_write_lock_held_elsewhere_is_waited_for(
        tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    sessions = make_sessions(engine)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # the other writer commits while we wait
        waits.append(seconds)
        if other.in_transaction:
            other.execute("COMMIT")

    monkeypatch.setattr(sqlite_lock.time, "sleep", sleep)
    IssuanceWrites(sessions).record_intended([_intended(1, clock.now())], {})
    assert waits and [row[1] for row in _intended_rows(sessions)] == ["1"]
    other.close()
    engine.dispose()


def test_a_write_lock_never_freed_fails_as_sqlalchemy_fails_and_writes_nothing(
        tmp_path: Path, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "locked.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    sessions = make_sessions(engine)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # held for good
    monkeypatch.setattr(sqlite_lock, "LOCK_WAIT", 0.0)  # no wait left after the first try
    with pytest.raises(OperationalError, match="locked"):
        IssuanceWrites(sessions).record_intended([_intended(1, clock.now())], {})
    other.execute("ROLLBACK")
    assert _intended_rows(sessions) == []
    other.close()
    engine.dispose()
