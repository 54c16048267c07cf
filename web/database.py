"""Engines, sessions and migrations of every package's tables."""

from __future__ import annotations

from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from ca.sqlite_lock import begin_immediate

# (package, version table) of each package that owns tables; migrated in this order.
MIGRATED_PACKAGES = ("jukibridge", "ca", "revocation")
WRITE_OPTION = "jpki_write"


def make_engine(url: str) -> Engine:
    """An engine with the settings each backend needs (SQLite: WAL, foreign keys, busy wait,
    and write transactions that take the write lock when they begin)."""
    if url.startswith("sqlite"):
        # The driver's own transaction handling is off. A transaction begun explicitly
        # (``session.begin()``: the code means to write) takes the write lock when it begins
        # (``ca.sqlite_lock``). Reads (autobegin) stay deferred and never wait.
        engine = create_engine(url, connect_args={"timeout": 0.005, "isolation_level": None})

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            if not conn.get_execution_options().get(WRITE_OPTION):
                conn.exec_driver_sql("BEGIN")
                return
            begin_immediate(conn.exec_driver_sql, OperationalError)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
            cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    # No pre-ping: it costs a round trip on every checkout of the hot read path; connections
    # are recycled instead, and a dropped connection fails one transaction cleanly.
    return create_engine(url, pool_recycle=1800)


class WritingSession(Session):
    """A session whose explicit ``begin()`` announces a write transaction (see ``make_engine``)."""

    def begin(self, nested: bool = False) -> SessionTransaction:
        transaction = super().begin(nested)
        if not nested:
            self.connection(execution_options={WRITE_OPTION: True})
        return transaction


def make_sessions(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, class_=WritingSession, expire_on_commit=False)


def alembic_config(package: str, engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files(package) / "migrations"))
    if engine is not None:
        config.set_main_option("sqlalchemy.url",
                               engine.url.render_as_string(hide_password=False))
    return config


def migrate(engine: Engine) -> None:
    """Bring every package's tables to the newest schema (idempotent)."""
    for package in MIGRATED_PACKAGES:
        config = alembic_config(package)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
