"""The two writes of every issuance, sent straight to the database driver.

Each issuance (a certificate, or a card's pair) writes twice, each time in its own transaction:
the intended certificates (with the check that their issuers are still the newest generations),
then, after the real signatures, the issued certificates. Through SQLAlchemy's session each
transaction spent about 0.2 ms in Python around the database's own work, and issuance runs 16 %
faster without it (BENCHMARKS.md). So these two transactions run on a pooled driver connection
(``engine.raw_connection()``, as the OCSP responder's revocation check reads), with:

- the INSERT statements compiled by SQLAlchemy for the engine's dialect, once, and every value
  passed through the bind processor of its column type as that dialect implements it, so the
  rows are exactly those SQLAlchemy would write (SQLite's datetime text, say);
- on SQLite, the write lock taken when the transaction begins, as for every write transaction
  (``ca.sqlite_lock``); PostgreSQL begins the transaction at the first statement;
- a commit at the end, a rollback on any error (nothing half written), and the driver's errors
  raised as SQLAlchemy's (IntegrityError for a serial already taken), as a session raises them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from sqlalchemy import Engine, Table
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from ca.sqlite_lock import begin_immediate
from ca.tables import Base, CaGeneration, IntendedCertificate, IssuedCertificate

_GENERATIONS = CaGeneration.__tablename__
# The newest generation's key id of each kind.
_NEWEST_KEY_IDS = (
    f"SELECT g.kind, g.key_id FROM {_GENERATIONS} g WHERE NOT EXISTS (SELECT 1 FROM "
    f"{_GENERATIONS} n WHERE n.kind = g.kind AND n.generation > g.generation)")


class _Insert:
    """A many-row INSERT into ``table`` of every column but the generated primary key, for one
    dialect, with the bind processors of that dialect's own column types."""

    def __init__(self, table: Table, engine: Engine) -> None:
        dialect = engine.dialect
        columns = [column.key for column in table.c if not column.primary_key]
        compiled = table.insert().compile(dialect=dialect, column_keys=columns)
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        self.keys = list(compiled.positiontup or []) if self.positional else columns
        self.processors: list[Callable[[Any], Any] | None] = [
            table.c[key].type.dialect_impl(dialect).bind_processor(dialect) for key in self.keys]

    def parameters(self, rows: Sequence[Mapping[str, Any]]) -> list[Any]:
        out: list[Any] = []
        for row in rows:
            values = [row[key] if process is None else process(row[key])
                      for key, process in zip(self.keys, self.processors, strict=True)]
            out.append(tuple(values) if self.positional else dict(zip(self.keys, values,
                                                                      strict=True)))
        return out


class IssuanceWrites:
    """The intended and issued certificates' transactions of ``CertificateAuthority``."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._bound: tuple[Engine, _Insert, _Insert] | None = None

    def record_intended(self, rows: Sequence[Mapping[str, Any]],
                        must_be_newest: Mapping[str, str]) -> dict[str, str] | None:
        """Insert the intended rows in one transaction if, for each kind in
        ``must_be_newest``, that key id is the kind's newest generation; otherwise insert
        nothing and return the newest key id of each kind. IntegrityError for a serial taken."""
        engine, intended, _ = self._bind()
        try:
            with _transaction(engine) as cursor:
                if must_be_newest:
                    cursor.execute(_NEWEST_KEY_IDS)
                    newest = {str(kind): str(key_id) for kind, key_id in cursor.fetchall()}
                    if any(newest.get(kind) != key_id
                           for kind, key_id in must_be_newest.items()):
                        raise _NotNewest(newest)
                cursor.executemany(intended.sql, intended.parameters(rows))
        except _NotNewest as refused:
            return refused.newest
        return None

    def store_issued(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert the issued rows in one transaction."""
        engine, _, issued = self._bind()
        with _transaction(engine) as cursor:
            cursor.executemany(issued.sql, issued.parameters(rows))

    def _bind(self) -> tuple[Engine, _Insert, _Insert]:
        if self._bound is None:
            with self._sessions() as session:
                engine = session.get_bind()
            assert isinstance(engine, Engine)
            tables = Base.metadata.tables
            self._bound = (
                engine,
                _Insert(tables[IntendedCertificate.__tablename__], engine),
                _Insert(tables[IssuedCertificate.__tablename__], engine))
        return self._bound


class _NotNewest(Exception):
    def __init__(self, newest: dict[str, str]) -> None:
        super().__init__("an issuer is no longer the newest generation")
        self.newest = newest


@contextmanager
def _transaction(engine: Engine) -> Iterator[Any]:
    """A cursor in a write transaction on a pooled driver connection: committed if the block
    ends normally, rolled back otherwise; the driver's errors raised as SQLAlchemy's."""
    dbapi = engine.dialect.loaded_dbapi
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        try:
            if engine.dialect.name == "sqlite":
                begin_immediate(cursor.execute, dbapi.OperationalError)
            yield cursor
        finally:
            cursor.close()
        connection.commit()
    except BaseException as exc:
        with suppress(Exception):  # a broken connection may fail to roll back too
            connection.rollback()
        if isinstance(exc, dbapi.Error):  # as SQLAlchemy raises it: IntegrityError, say
            raise DBAPIError.instance(None, None, exc, dbapi.Error) from exc
        raise
    finally:
        connection.close()  # back to the pool

