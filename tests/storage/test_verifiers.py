"""The registry of verifiers (署名検証者): keys kept only as hashes, suspension, the verifier log,
``jpki verifier``, the provision-log side of the latest basic four, and the migration, on every
backend."""

from __future__ import annotations

import hashlib
import re

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect, select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import provision, workers
from jukibridge.change_requests import ResidentCodeChange
from jukibridge.errors import InvalidInput
from jukibridge.register import Register
from pki.clock import FrozenClock
from revocation import verifiers
from revocation.errors import InvalidRequest, VerifierUnauthorized
from revocation.tables import Base, VerifierLogEntry, VerifierRow
from revocation.verifiers import Event, LogOutcome, VerifierKind, VerifierState
from tests.storage.conftest import Jpki
from tests.storage.helpers import arrive
from web.database import alembic_config
from web.revocation_wiring import JukiHolderRegister

KEY = re.compile(r"^jv1\.[0-9a-f]{16}\.[A-Za-z0-9_-]{43}$", re.MULTILINE)
TABLES = ("revocation_verifiers", "revocation_verifier_log")


def test_a_key_is_shown_once_and_kept_only_as_its_hash(
        sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    made = verifiers.register(sessions, clock, name="  国税庁 ", kind=VerifierKind.NATIONAL,
                              operator="chief")
    assert KEY.match(made.api_key) and made.api_key not in repr(made)
    assert made.verifier.name == "国税庁" and made.verifier.may_see_basic_four
    with sessions() as session:
        row = session.scalars(select(VerifierRow)).one()
        assert row.key_hash == hashlib.sha256(made.api_key.encode()).hexdigest()
        secret = made.api_key.rsplit(".", 1)[1]
        stored = [str(v) for v in vars(row).values()] + [
            str(v) for entry in session.scalars(select(VerifierLogEntry))
            for v in vars(entry).values()]
    assert not any(secret in value for value in stored)
    found = verifiers.authenticate(sessions, clock, f"  {made.api_key} ")
    assert found == made.verifier
    (entry,) = verifiers.log_entries(sessions)
    assert (entry.event, entry.outcome, entry.operator) == (
        Event.REGISTERED, LogOutcome.DONE, "chief")


def test_unknown_malformed_and_wrong_keys_are_refused(
        sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    made = verifiers.register(sessions, clock, name="所沢市", kind=VerifierKind.LOCAL,
                              operator="chief")
    key_id = made.verifier.key_id
    wrong_secret = f"jv1.{key_id}.{'A' * 43}"
    unknown_id = f"jv1.{'0' * 16}.{'A' * 43}"
    for key in ("", "jv1", made.api_key + "x", made.api_key.upper(), wrong_secret,
                unknown_id, "x" * 10_000):
        with pytest.raises(VerifierUnauthorized):
            verifiers.authenticate(sessions, clock, key)
    refused = [e for e in verifiers.log_entries(sessions) if e.event is Event.KEY_REFUSED]
    # Logged only under a registered key id (a wrong secret), never the key itself.
    assert [e.verifier_id for e in refused] == [made.verifier.verifier_id]
    assert all(wrong_secret not in str(e.detail) for e in refused)


def test_registration_refuses_bad_names_and_duplicates(
        sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    verifiers.register(sessions, clock, name="国税庁", kind=VerifierKind.NATIONAL,
                       operator="chief")
    for name in ("国税庁", "", "   ", "あ" * 41, "ベル\x07"):
        with pytest.raises(InvalidRequest):
            verifiers.register(sessions, clock, name=name, kind=VerifierKind.NATIONAL,
                               operator="chief")
    with pytest.raises(InvalidRequest):
        verifiers.register(sessions, clock, name="日本年金機構", kind=VerifierKind.NATIONAL,
                           operator=" ")
    assert [v.name for v in verifiers.verifiers(sessions)] == ["国税庁"]


def test_a_suspended_verifier_is_still_known_but_grants_nothing(
        sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    made = verifiers.register(sessions, clock, name="株式会社認定銀行",
                              kind=VerifierKind.CERTIFIED, operator="chief")
    done = verifiers.suspend(sessions, clock, made.verifier.verifier_id, operator="chief2")
    assert done.changed and done.verifier.state is VerifierState.SUSPENDED
    assert (done.verifier.suspended_at, done.verifier.suspended_by) == (clock.now(), "chief2")
    again = verifiers.suspend(sessions, clock, made.verifier.verifier_id, operator="chief")
    assert not again.changed and again.verifier.suspended_by == "chief2"
    found = verifiers.authenticate(sessions, clock, made.api_key)
    assert found.kind.entitled and not found.may_see_basic_four
    with pytest.raises(InvalidRequest):
        verifiers.suspend(sessions, clock, 999, operator="chief")
    assert [e.event for e in verifiers.log_entries(sessions, made.verifier.verifier_id)] == [
        Event.REGISTERED, Event.SUSPENDED]
    assert not VerifierKind.PRIVATE.entitled


def test_reinstating_and_rotating_a_key(sessions: sessionmaker[Session],
                                        clock: FrozenClock) -> None:
    made = verifiers.register(sessions, clock, name="埼玉県", kind=VerifierKind.LOCAL,
                              operator="chief")
    ident = made.verifier.verifier_id
    verifiers.suspend(sessions, clock, ident, operator="chief")
    done = verifiers.reinstate(sessions, clock, ident, operator="chief2")
    assert done.changed and done.verifier.state is VerifierState.ACTIVE
    assert done.verifier.suspended_at is None
    assert not verifiers.reinstate(sessions, clock, ident, operator="chief").changed
    assert verifiers.authenticate(sessions, clock, made.api_key).may_see_basic_four

    verifiers.suspend(sessions, clock, ident, operator="chief")  # the key leaked
    rotated = verifiers.rotate_key(sessions, clock, ident, operator="chief")
    assert KEY.match(rotated.api_key) and rotated.api_key != made.api_key
    assert rotated.verifier.state is VerifierState.ACTIVE  # reinstated with its new key
    with pytest.raises(VerifierUnauthorized):
        verifiers.authenticate(sessions, clock, made.api_key)
    assert verifiers.authenticate(sessions, clock, rotated.api_key).verifier_id == ident
    with sessions() as session:
        row = session.get(VerifierRow, ident)
        assert row is not None and rotated.api_key not in (row.key_hash, row.key_id)
    with pytest.raises(InvalidRequest):
        verifiers.rotate_key(sessions, clock, 999, operator="chief")
    assert [e.event for e in verifiers.log_entries(sessions, ident)] == [
        Event.REGISTERED, Event.SUSPENDED, Event.REINSTATED, Event.SUSPENDED, Event.KEY_ROTATED]


def test_jpki_verifier_register_list_suspend_and_log(jpki: Jpki) -> None:
    refused = jpki("verifier", "register", "国税庁", "--kind", "national", "--operator", "clerk",
                   ok=False)
    assert refused.exit_code == 1 and "supervisor" in refused.output
    output = jpki("verifier", "register", "国税庁", "--kind", "national",
                  "--operator", "chief").output
    (key,) = KEY.findall(output)
    assert "verifier 1 registered" in output and "only this once" in output
    jpki("verifier", "register", "[株]サンプル", "--kind", "private", "--operator", "chief")
    listed = jpki("verifier", "list").output
    assert "国税庁" in listed and "[株]サンプル" in listed and "国の機関" in listed
    assert key not in listed and key.split(".")[1] not in listed
    assert "suspended" in jpki("verifier", "suspend", "1", "--operator", "chief").output
    assert "nothing changed" in jpki("verifier", "suspend", "1", "--operator", "chief").output
    assert "停止中" in jpki("verifier", "list").output
    missing = jpki("verifier", "suspend", "9", "--operator", "chief", ok=False)
    assert missing.exit_code == 1 and "no verifier 9" in missing.output
    duplicate = jpki("verifier", "register", "国税庁", "--kind", "local", "--operator", "chief",
                     ok=False)
    assert duplicate.exit_code == 1 and "already" in duplicate.output
    assert "reinstated" in jpki("verifier", "reinstate", "1", "--operator", "chief").output
    rotated = jpki("verifier", "rotate-key", "1", "--operator", "chief").output
    (new_key,) = KEY.findall(rotated)
    assert new_key != key and "no longer works" in rotated
    refused = jpki("verifier", "rotate-key", "1", "--operator", "clerk", ok=False)
    assert refused.exit_code == 1 and "supervisor" in refused.output
    log = jpki("verifier", "log", "1").output
    assert "registered" in log and "suspended" in log and "chief" in log
    assert "reinstated" in log and "key_rotated" in log
    assert key not in log and new_key not in log


def test_the_provision_log_side_follows_a_resident_code_change(
        register: Register, sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    old = arrive(register)
    workers.drain(sessions, clock)
    draft = register.enter("clerk", ResidentCodeChange(resident_code=old))
    new = register.commit("chief", draft).resident_codes[0]
    workers.drain(sessions, clock)
    port = JukiHolderRegister(sessions, clock)
    four = port.provide("国税庁", [old])  # the certificate was issued under the old code
    assert four is not None and four.name == "山田　花子" and four.birth_date == "419900503"
    port.refuse("日本年金機構", old, "the holder has not consented")
    assert port.provide("国税庁", ["24727059608"]) is None  # nobody holds this code
    records = provision.history(sessions, new)
    assert [(r.agency, r.outcome, r.subject_resident_code, r.fields) for r in records] == [
        ("国税庁", provision.Outcome.PROVIDED, new, provision.BASIC_FOUR_ITEMS),
        ("日本年金機構", provision.Outcome.REFUSED, old, ())]
    assert {r.purpose_id for r in records} == {provision.LATEST_BASIC_FOUR}
    with sessions() as session, session.begin(), pytest.raises(InvalidInput):
        provision.log_verifier_request(session, clock, verifier="国税庁", resident_code=new,
                                       outcome=provision.Outcome.REFUSED, fields=["name"])
    with sessions() as session, session.begin(), pytest.raises(InvalidInput):
        provision.log_verifier_request(session, clock, verifier="国税庁", resident_code=new,
                                       outcome=provision.Outcome.PROVIDED,
                                       fields=["individual_number"])


def _alembic(engine: Engine, action: str, revision: str) -> None:
    config = alembic_config("revocation")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def test_the_migration_runs_both_ways_and_matches_the_tables(engine: Engine) -> None:
    assert set(TABLES) <= set(inspect(engine).get_table_names())
    _alembic(engine, "downgrade", "0002")
    names = set(inspect(engine).get_table_names())
    assert not set(TABLES) & names and "revocation_consents" in names
    _alembic(engine, "upgrade", "head")
    assert set(TABLES) <= set(inspect(engine).get_table_names())
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = [d for d in compare_metadata(context, Base.metadata)
                       if any(table in repr(d) for table in TABLES)]
    assert differences == []
