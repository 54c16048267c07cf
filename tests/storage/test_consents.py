"""Consents to the latest-basic-four service: append-only records, current state, re-linked
codes, and the migration that adds them, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from pki.clock import FrozenClock
from revocation import consents
from revocation.consents import Channel, ConsentState
from revocation.errors import InvalidRequest
from revocation.tables import Base, CodeLink, ConsentEntry
from web.database import alembic_config

CODE = "24727059608"
NEW_CODE = "24846016224"
VERSION_TABLE = "alembic_version_revocation"  # revocation/migrations/env.py


def test_give_and_withdraw_keep_the_history(sessions: sessionmaker[Session],
                                            clock: FrozenClock) -> None:
    assert consents.current(sessions, CODE) is ConsentState.NONE
    with pytest.raises(InvalidRequest, match="none can be withdrawn"):
        consents.withdraw(sessions, clock, CODE, channel=Channel.PORTAL)
    given = consents.give(sessions, clock, CODE, channel=Channel.PORTAL)
    assert given.changed and given.consent.state is ConsentState.GIVEN
    assert given.consent.recorded_at == clock.now()
    again = consents.give(sessions, clock, CODE, channel=Channel.COUNTER)
    assert not again.changed and again.consent == given.consent, "nothing new recorded"
    clock.advance(timedelta(days=1))
    withdrawn = consents.withdraw(sessions, clock, CODE, channel=Channel.COUNTER)
    assert withdrawn.changed and consents.current(sessions, CODE) is ConsentState.WITHDRAWN
    clock.advance(timedelta(days=1))
    consents.give(sessions, clock, CODE, channel=Channel.PORTAL)
    history = consents.history(sessions, CODE)
    assert [(c.state, c.channel) for c in history] == [
        (ConsentState.GIVEN, Channel.PORTAL), (ConsentState.WITHDRAWN, Channel.COUNTER),
        (ConsentState.GIVEN, Channel.PORTAL)]
    assert consents.current(sessions, CODE) is ConsentState.GIVEN
    assert consents.current(sessions, NEW_CODE) is ConsentState.NONE, "per resident"
    with sessions() as session:
        assert session.scalar(select(ConsentEntry.recorded_at).order_by(
            ConsentEntry.consent_id).limit(1)) == datetime(2026, 4, 1, 1, 0, tzinfo=UTC)


def test_a_consent_follows_a_re_linked_resident_code(sessions: sessionmaker[Session],
                                                    clock: FrozenClock) -> None:
    consents.give(sessions, clock, CODE, channel=Channel.PORTAL)
    with sessions() as session, session.begin():
        session.add(CodeLink(previous_code=CODE, resident_code=NEW_CODE, notice_id="n-1",
                             linked_at=clock.now()))
    assert consents.current(sessions, NEW_CODE) is ConsentState.GIVEN
    clock.advance(timedelta(minutes=1))
    consents.withdraw(sessions, clock, NEW_CODE, channel=Channel.PORTAL)
    assert consents.current(sessions, CODE) is ConsentState.WITHDRAWN, "either code"
    assert [c.resident_code for c in consents.history(sessions, CODE)] == [CODE, NEW_CODE]


@pytest.mark.parametrize("bad", ["", "1234", "2472705960X", "247270596080"])
def test_a_malformed_resident_code_is_refused(sessions: sessionmaker[Session],
                                              clock: FrozenClock, bad: str) -> None:
    with pytest.raises(InvalidRequest, match="11 digits"):
        consents.give(sessions, clock, bad, channel=Channel.PORTAL)
    with sessions() as session:
        assert session.scalars(select(ConsentEntry)).all() == []


def _revocation_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(
            conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def _head() -> str | None:
    return ScriptDirectory.from_config(alembic_config("revocation")).get_current_head()


def _alembic(engine: Engine, action: str, revision: str) -> None:
    config = alembic_config("revocation")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def test_the_migration_runs_both_ways_and_matches_the_tables(engine: Engine) -> None:
    assert _revocation_revision(engine) == _head()
    assert "revocation_consents" in inspect(engine).get_table_names()
    _alembic(engine, "downgrade", "0001")
    assert "revocation_consents" not in inspect(engine).get_table_names()
    assert "revocation_entries" in inspect(engine).get_table_names()
    _alembic(engine, "upgrade", "head")
    assert _revocation_revision(engine) == _head()
    indexes = {i["name"] for i in inspect(engine).get_indexes("revocation_consents")}
    assert "ix_revocation_consents_resident" in indexes
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, Base.metadata)
                       if "revocation_consents" in repr(d)]
    assert differences == []
