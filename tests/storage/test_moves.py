"""Moves between municipalities in two prefectures, through the CSs and the upper tiers."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import cards, notices, workers
from jukibridge.change_requests import MoveIn, MoveInConfirmation, MoveOut
from jukibridge.errors import Conflict, InvalidInput, NotFound
from jukibridge.notices import NoticeKind
from jukibridge.records import ChangeKind, RecordState
from jukibridge.register import Register
from jukibridge.tables import CardRow, Person
from jukibridge.tier_tables import CsMessage, NationalIdentity, PrefectureIdentity
from pki.clock import FrozenClock
from tests.storage.helpers import arrive

DESTINATION = "神奈川県平塚市浅間町9番1号"


def _identities(sessions: sessionmaker[Session], code: str
                ) -> tuple[dict[str, PrefectureIdentity], NationalIdentity]:
    with sessions() as session:
        at_prefectures = {i.prefecture_code: i for i in session.scalars(
            select(PrefectureIdentity).where(PrefectureIdentity.resident_code == code))}
        national = session.scalars(select(NationalIdentity).where(
            NationalIdentity.resident_code == code)).one()
        return at_prefectures, national


def test_ordinary_move_with_the_move_in_notice_back_to_the_origin(
        register: Register, hiratsuka: str, sessions: sessionmaker[Session],
        clock: FrozenClock) -> None:
    destination = Register(sessions, clock, hiratsuka)
    mother = arrive(register)
    child = arrive(register, name="山田　一郎", kana="ヤマダ　イチロウ", birth="2015-01-02",
                   join=mother, relationship="子")
    workers.drain(sessions, clock)
    moving = register.perform("clerk", MoveOut(resident_codes=[mother, child],
                                               destination=DESTINATION))
    arrived = destination.perform("h-clerk", MoveIn(
        certificate_id=moving.certificate_ids[0], address="浅間町9番1号"))
    destination.perform("h-clerk", MoveIn(
        certificate_id=moving.certificate_ids[1], address="浅間町9番1号",
        join_household_of=arrived.resident_codes[0], relationship="子"))
    assert arrived.resident_codes == [mother], "the resident code travels with the person"

    workers.drain(sessions, clock)
    removed = register.record(mother, operator="clerk")
    assert removed.state is RecordState.REMOVED  # 所沢's 除票 ...
    assert removed.kind is ChangeKind.MOVE_IN_CONFIRMED  # ... finalised by the notice
    assert removed.destination == DESTINATION
    assert removed.destination_confirmed_on == register.today()
    assert removed.operator == f"cs:{hiratsuka}"
    assert destination.record(mother, operator="h-clerk").address == DESTINATION

    at_prefectures, national = _identities(sessions, mother)
    assert at_prefectures["11"].removed and not at_prefectures["14"].removed
    assert at_prefectures["14"].address == DESTINATION
    assert (national.municipality_code, national.address, national.removed) == (
        hiratsuka, DESTINATION, False)
    with sessions() as session:
        feed = notices.read(session)
        messages = session.scalars(select(CsMessage)).all()
    assert {(n.resident_code, n.kind) for n in feed} == {
        (mother, NoticeKind.BASIC_FOUR_CHANGED), (child, NoticeKind.BASIC_FOUR_CHANGED)}
    assert all(n.change_reason == "MOVE_OUT" for n in feed)
    assert [m.result for m in messages] == ["applied", "applied"]
    # what the CSs exchanged never reached an upper store: no relationship, no domicile there
    with sessions() as session:
        for row_type in (PrefectureIdentity, NationalIdentity):
            for identity in session.scalars(select(row_type)):
                stored = json.dumps({c.key: str(getattr(identity, c.key))
                                     for c in row_type.__table__.columns}, ensure_ascii=False)
                assert "並木三丁目1番地" not in stored and "世帯主" not in stored


def _card(sessions: sessionmaker[Session], clock: FrozenClock, code: str,
          card_id: str) -> str:
    """Record an active card for resident ``code`` (as enrolment at the counter does)."""
    with sessions() as session, session.begin():
        person = session.scalars(select(Person).where(Person.resident_code == code)).one()
        cards.record_card(session, clock, card_id=card_id, person_id=person.person_id,
                          signing_serial=1, auth_serial=2, identity_document="運転免許証",
                          operator="clerk")
    return card_id


def _card_row(sessions: sessionmaker[Session], card_id: str) -> CardRow:
    with sessions() as session:
        row = session.get(CardRow, card_id)
        assert row is not None
        return row


def test_special_move_is_keyed_at_the_destination_from_the_data_sent_ahead(
        register: Register, hiratsuka: str, sessions: sessionmaker[Session],
        clock: FrozenClock) -> None:
    destination = Register(sessions, clock, hiratsuka)
    code = arrive(register)
    card = _card(sessions, clock, code, "card-of-the-mover")
    register.perform("clerk", MoveOut(resident_codes=[code], destination=DESTINATION,
                                      destination_code=hiratsuka, special=True))
    with pytest.raises(NotFound, match="no special-move data"):  # not arrived yet
        destination.perform("h-clerk", MoveIn(resident_code=code, address="浅間町9番1号",
                                              card_id=card))
    workers.drain(sessions, clock)
    destination.perform("h-clerk", MoveIn(resident_code=code, address="浅間町9番1号",
                                          card_id=card))
    workers.drain(sessions, clock)
    assert destination.record(code, operator="h-clerk").address == DESTINATION
    assert register.record(code, operator="clerk").destination_confirmed_on is not None
    row = _card_row(sessions, card)  # the card is now kept by the destination
    assert (row.municipality_code, row.state) == (hiratsuka, "active")
    assert row.person_id == destination.record(code, operator="h-clerk").person_id


def test_special_move_is_for_card_holders(register: Register, hiratsuka: str,
                                          sessions: sessionmaker[Session],
                                          clock: FrozenClock) -> None:
    code = arrive(register)
    with pytest.raises(InvalidInput, match="for card holders"):
        register.perform("clerk", MoveOut(resident_codes=[code], destination=DESTINATION,
                                          destination_code=hiratsuka, special=True))
    _card(sessions, clock, code, "lost-card")
    with sessions() as session, session.begin():
        cards.change_state(session, clock, "lost-card", "lost", operator="clerk",
                           municipality_code=register.municipality_code)
    with pytest.raises(InvalidInput, match="for card holders"):  # a lost card does not count
        register.perform("clerk", MoveOut(resident_codes=[code], destination=DESTINATION,
                                          destination_code=hiratsuka, special=True))
    assert register.record(code, operator="clerk").state is RecordState.ACTIVE


def test_special_move_in_is_checked_against_the_card(
        register: Register, hiratsuka: str, sessions: sessionmaker[Session],
        clock: FrozenClock) -> None:
    """A household moves by the special route on the mother's card: the child moves in on
    presentation of that card; no card, another resident's card or a card reported lost
    after the move-out are refused and change nothing."""
    destination = Register(sessions, clock, hiratsuka)
    mother = arrive(register)
    child = arrive(register, name="山田　一郎", kana="ヤマダ　イチロウ", birth="2015-01-02",
                   join=mother, relationship="子")
    stranger = arrive(register, name="別人　三郎", kana="ベツジン　サブロウ")
    card = _card(sessions, clock, mother, "mothers-card")
    other = _card(sessions, clock, stranger, "strangers-card")
    register.perform("clerk", MoveOut(resident_codes=[mother, child], destination=DESTINATION,
                                      destination_code=hiratsuka, special=True))
    workers.drain(sessions, clock)
    for card_id, error, match in ((None, InvalidInput, "on presentation of the card"),
                                  (other, InvalidInput, "not one of the cards"),
                                  ("no-such-card", InvalidInput, "not one of the cards")):
        with pytest.raises(error, match=match):
            destination.perform("h-clerk", MoveIn(resident_code=child, address="浅間町9番1号",
                                                  card_id=card_id))
    arrived = destination.perform("h-clerk", MoveIn(resident_code=child,
                                                    address="浅間町9番1号", card_id=card))
    assert arrived.resident_codes == [child]
    assert _card_row(sessions, card).municipality_code == register.municipality_code
    with sessions() as session, session.begin():
        cards.change_state(session, clock, card, "lost", operator="clerk",
                           municipality_code=register.municipality_code)
    with pytest.raises(Conflict, match="the card is lost"):
        destination.perform("h-clerk", MoveIn(resident_code=mother, address="浅間町9番1号",
                                              card_id=card))
    with pytest.raises(NotFound):
        destination.record(mother, operator="h-clerk")
    with pytest.raises(InvalidInput, match="only for a special move"):
        destination.perform("h-clerk", MoveIn(certificate_id="0" * 32, address="浅間町9番1号",
                                              card_id=card))


@pytest.mark.parametrize(("changes", "error", "match"), [
    ({"special": True}, InvalidInput, "names the destination"),
    ({"special": True, "destination_code": "412040"}, NotFound, "not on the network"),
    ({"special": True, "destination_code": "112089"}, InvalidInput, "relocation"),
    ({"special": True, "destination_code": "142035"}, InvalidInput, "check digit"),
])
def test_bad_special_moves_are_refused(register: Register, hiratsuka: str,
                                       sessions: sessionmaker[Session],
                                       changes: dict[str, object], error: type[Exception],
                                       match: str) -> None:
    code = arrive(register)
    with pytest.raises(error, match=match):
        register.perform("clerk", MoveOut(resident_codes=[code], destination=DESTINATION,
                                          **changes))  # type: ignore[arg-type]
    assert register.record(code, operator="clerk").state is RecordState.ACTIVE
    with sessions() as session:
        assert session.scalars(select(CsMessage)).all() == []


def test_a_notice_the_origin_cannot_apply_is_answered_not_retried(
        register: Register, hiratsuka: str, sessions: sessionmaker[Session],
        clock: FrozenClock) -> None:
    destination = Register(sessions, clock, hiratsuka)
    code = arrive(register)
    moving = register.perform("clerk", MoveOut(resident_codes=[code], destination=DESTINATION))
    destination.perform("h-clerk", MoveIn(certificate_id=moving.certificate_ids[0],
                                          address="浅間町9番1号"))
    # the origin's counter confirmed it by hand before the notice arrived
    register.perform("clerk", MoveInConfirmation(certificate_id=moving.certificate_ids[0],
                                                 destination=DESTINATION))
    workers.drain(sessions, clock)
    with sessions() as session:
        (message,) = session.scalars(select(CsMessage)).all()
    assert message.applied_at is not None
    assert message.result is not None and message.result.startswith("refused: ")
    assert workers.drain(sessions, clock) == 0
