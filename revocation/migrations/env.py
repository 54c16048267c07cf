"""Alembic environment of the revocation tables (its own version table, its own database)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from revocation.tables import Base

VERSION_TABLE = "alembic_version_revocation"
config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _migrate(conn)


def _migrate(connection: object) -> None:
    context.configure(connection=connection, target_metadata=Base.metadata,  # type: ignore[arg-type]
                      version_table=VERSION_TABLE, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run()
