"""Every change kind: what it records, and how bad input is refused without any change."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import municipalities, operators
from jukibridge.change_requests import (
    Birth,
    Correction,
    Death,
    Emigration,
    HouseholdChange,
    Immigration,
    MinorCorrection,
    MoveIn,
    MoveInConfirmation,
    MoveOut,
    NameChange,
    Relocation,
    ResidentCodeChange,
)
from jukibridge.codes import is_valid_individual_number, is_valid_resident_code
from jukibridge.errors import Conflict, InvalidInput, NotFound
from jukibridge.records import ChangeKind, RecordState, Role, Sex
from jukibridge.register import Register
from jukibridge.tables import AuditEntry, Change, Person, Snapshot
from pki.clock import FrozenClock
from pki.eras import PartialDate
from tests.conftest import PASSWORD
from tests.storage.helpers import arrive

TODAY = date(2026, 4, 1)


def rows(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    """Counts that must not move when a change is refused: persons, snapshots, changes."""
    with sessions() as s:
        return (s.scalar(select(func.count()).select_from(Person)) or 0,
                s.scalar(select(func.count()).select_from(Snapshot)) or 0,
                s.scalar(select(func.count()).select_from(Change)) or 0)


@pytest.fixture
def hiratsuka(sessions: sessionmaker[Session], clock: FrozenClock) -> Register:
    with sessions() as session, session.begin():
        municipalities.open_register(session, clock, "142034")
        operators.add_operator(session, clock, login="h-clerk", password=PASSWORD,
                               role=Role.CLERK, municipality_code="142034")
    return Register(sessions, clock, "142034")


def test_immigration_creates_a_household_headed_by_the_newcomer(register: Register) -> None:
    code = arrive(register)
    record = register.record(code, operator="clerk")
    assert is_valid_resident_code(code)
    assert record.individual_number and is_valid_individual_number(record.individual_number)
    assert record.address == "埼玉県所沢市並木三丁目1番1号"
    assert record.is_head and record.kind is ChangeKind.IMMIGRATION
    assert record.name_kana == "ヤマダ\u3000ハナコ"
    assert record.became_resident_on == PartialDate.of(TODAY)
    assert record.birth_date.japanese() == "平成2年5月3日"


def test_foreign_resident_items(register: Register) -> None:
    code = arrive(register, "グエン　ヴァン　アン", "グエン　ヴァン　アン", foreign=True)
    record = register.record(code, operator="clerk")
    assert record.foreign_resident and record.nationality == "ベトナム"
    assert record.domicile is None


def test_foreign_resident_cannot_have_a_domicile(register: Register,
                                                 sessions: sessionmaker[Session]) -> None:
    before = rows(sessions)
    with pytest.raises(InvalidInput, match="domicile"):
        register.perform("clerk", Immigration(
            name="A B", name_kana="エー　ビー", birth_date=PartialDate.parse("1990"),
            sex=Sex.MALE, address="東町1番", previous_address="中国", foreign_resident=True,
            nationality="中国", residence_status="留学", domicile="東京都千代田区"))
    assert rows(sessions) == before


def test_birth_joins_the_parent_household(register: Register) -> None:
    mother = arrive(register)
    child = register.perform("clerk", Birth(
        parent_code=mother, name="山田　陽太", name_kana="ヤマダ　ヨウタ",
        birth_date=PartialDate.of(TODAY), sex=Sex.MALE)).resident_codes[0]
    parent, baby = (register.record(c, operator="clerk") for c in (mother, child))
    assert baby.household_id == parent.household_id
    assert baby.relationship == "子" and baby.address == parent.address
    assert baby.domicile == parent.domicile
    assert baby.effective_on == TODAY


def test_birth_in_the_future_is_refused(register: Register,
                                        sessions: sessionmaker[Session]) -> None:
    mother = arrive(register)
    before = rows(sessions)
    with pytest.raises(InvalidInput):
        register.perform("clerk", Birth(
            parent_code=mother, name="山田　未来", name_kana="ヤマダ　ミライ",
            birth_date=PartialDate.of(TODAY + timedelta(days=1)), sex=Sex.MALE))
    assert rows(sessions) == before


def test_death_removes_the_record_and_keeps_it(register: Register) -> None:
    code = arrive(register)
    register.perform("clerk", Death(resident_code=code), effective_on=TODAY - timedelta(days=2),
                     notified_on=TODAY)
    record = register.record(code, operator="clerk")
    assert record.state is RecordState.REMOVED
    assert record.removal_reason is ChangeKind.DEATH
    assert record.removed_on == TODAY - timedelta(days=2)
    assert len(register.history(code, operator="clerk")) == 2


def test_death_of_a_removed_person_is_refused(register: Register,
                                              sessions: sessionmaker[Session]) -> None:
    code = arrive(register)
    register.perform("clerk", Death(resident_code=code))
    before = rows(sessions)
    with pytest.raises(Conflict, match="removed"):
        register.perform("clerk", Death(resident_code=code))
    assert rows(sessions) == before


def test_malformed_codes_are_refused(register: Register) -> None:
    with pytest.raises(InvalidInput, match="check digit"):
        register.perform("clerk", Death(resident_code="24727059609"))
    with pytest.raises(InvalidInput, match="11 digits"):
        register.perform("clerk", Death(resident_code="12345"))
    with pytest.raises(NotFound):
        register.perform("clerk", Death(resident_code="24727059608"))


def test_move_out_and_move_in_between_municipalities(register: Register,
                                                     hiratsuka: Register) -> None:
    mother = arrive(register)
    child = register.perform("clerk", Birth(
        parent_code=mother, name="山田　陽太", name_kana="ヤマダ　ヨウタ",
        birth_date=PartialDate.of(TODAY), sex=Sex.MALE)).resident_codes[0]
    out = register.perform("clerk", MoveOut(resident_codes=[mother, child],
                                            destination="神奈川県平塚市浅間町9番1号"),
                           effective_on=TODAY + timedelta(days=10), notified_on=TODAY)
    assert len(out.certificate_ids) == 2
    removed = register.record(mother, operator="clerk")
    assert removed.state is RecordState.REMOVED and removed.removal_reason is ChangeKind.MOVE_OUT
    assert removed.destination == "神奈川県平塚市浅間町9番1号"

    head = hiratsuka.perform("h-clerk", MoveIn(certificate_id=out.certificate_ids[0],
                                               address="浅間町9番1号"))
    hiratsuka.perform("h-clerk", MoveIn(certificate_id=out.certificate_ids[1],
                                        address="浅間町9番1号", join_household_of=mother,
                                        relationship="子"))
    assert head.resident_codes == [mother]
    arrived = hiratsuka.record(mother, operator="h-clerk")
    assert arrived.address == "神奈川県平塚市浅間町9番1号"
    assert arrived.previous_address == "埼玉県所沢市並木三丁目1番1号"
    assert arrived.individual_number == removed.individual_number
    assert hiratsuka.record(child, operator="h-clerk").household_id == arrived.household_id

    register.perform("clerk", MoveInConfirmation(certificate_id=out.certificate_ids[0],
                                                 destination="神奈川県平塚市浅間町9番1号"))
    assert register.record(mother, operator="clerk").destination_confirmed_on == TODAY


def test_move_in_of_a_code_that_is_already_resident_is_refused(
        register: Register, hiratsuka: Register, sessions: sessionmaker[Session]) -> None:
    code = arrive(register)
    out = register.perform("clerk", MoveOut(resident_codes=[code], destination="平塚市"))
    hiratsuka.perform("h-clerk", MoveIn(certificate_id=out.certificate_ids[0], address="浅間町1"))
    before = rows(sessions)
    with pytest.raises(Conflict, match="already"):
        hiratsuka.perform("h-clerk", MoveIn(certificate_id=out.certificate_ids[0],
                                            address="浅間町2"))
    assert rows(sessions) == before


def test_move_in_from_the_same_municipality_is_a_relocation(register: Register) -> None:
    code = arrive(register)
    out = register.perform("clerk", MoveOut(resident_codes=[code], destination="平塚市"))
    with pytest.raises(Conflict, match="relocation"):
        register.perform("clerk", MoveIn(certificate_id=out.certificate_ids[0],
                                         address="東町1"))


def test_unknown_move_out_certificate(hiratsuka: Register) -> None:
    with pytest.raises(NotFound):
        hiratsuka.perform("h-clerk", MoveIn(certificate_id="00" * 16, address="浅間町1"))


def test_move_out_too_far_ahead_is_refused(register: Register) -> None:
    code = arrive(register)
    with pytest.raises(InvalidInput, match="future"):
        register.perform("clerk", MoveOut(resident_codes=[code], destination="平塚市"),
                         effective_on=TODAY + timedelta(days=60))


def test_emigration(register: Register) -> None:
    code = arrive(register)
    register.perform("clerk", Emigration(resident_codes=[code], destination="フランス"))
    record = register.record(code, operator="clerk")
    assert record.removal_reason is ChangeKind.EMIGRATION and record.destination == "フランス"


def test_relocation_keeps_the_previous_address(register: Register) -> None:
    code = arrive(register)
    register.perform("clerk", Relocation(resident_codes=[code], address="埼玉県所沢市東町5番8号"))
    record = register.record(code, operator="clerk")
    assert record.address == "埼玉県所沢市東町5番8号"
    assert record.previous_address == "埼玉県所沢市並木三丁目1番1号"


@pytest.mark.parametrize("address", ["東京都千代田区千代田1", "所沢市", ""])
def test_relocation_outside_the_municipality_is_refused(register: Register,
                                                        address: str) -> None:
    code = arrive(register)
    with pytest.raises(InvalidInput, match="address"):
        register.perform("clerk", Relocation(resident_codes=[code], address=address))


def test_relocation_to_the_same_address_is_refused(register: Register) -> None:
    code = arrive(register)
    with pytest.raises(Conflict):
        register.perform("clerk", Relocation(resident_codes=[code], address="並木三丁目1番1号"))


def test_name_change_records_the_former_surname(register: Register) -> None:
    code = arrive(register)
    register.perform("clerk", NameChange(resident_code=code, name="佐藤　花子",
                                         name_kana="サトウ　ハナコ", former_surname="山田"))
    record = register.record(code, operator="clerk")
    assert (record.name, record.former_surname) == ("佐藤\u3000花子", "山田")


def test_correction_needs_a_supervisor_other_than_the_clerk(register: Register) -> None:
    code = arrive(register)
    change_id = register.enter("clerk", Correction(resident_code=code,
                                                   items={"birth_date": "1990-05-04"}))
    from jukibridge.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        register.commit("clerk", change_id)
    register.commit("chief", change_id)
    assert register.record(code, operator="clerk").birth_date.code == "419900504"


def test_correction_of_an_unknown_item_is_refused(register: Register) -> None:
    code = arrive(register)
    with pytest.raises(InvalidInput, match="cannot be corrected"):
        register.enter("clerk", Correction(resident_code=code, items={"resident_code": "1"}))


def test_minor_correction_turns_a_character_into_its_common_form(register: Register) -> None:
    code = arrive(register, "髙橋　一郎", "タカハシ　イチロウ", sex=Sex.MALE)
    register.perform("clerk", MinorCorrection(resident_code=code, name="高橋　一郎"))
    assert register.record(code, operator="clerk").name == "高橋\u3000一郎"
    with pytest.raises(InvalidInput, match="one for one"):
        register.perform("clerk", MinorCorrection(resident_code=code, name="高橋　一"))


def test_household_split_merge_and_head_change(register: Register) -> None:
    head = arrive(register, "鈴木　一郎", "スズキ　イチロウ", sex=Sex.MALE)
    wife = arrive(register, "鈴木　花子", "スズキ　ハナコ", join=head, relationship="妻")
    son = arrive(register, "鈴木　次郎", "スズキ　ジロウ", sex=Sex.MALE, join=head,
                 relationship="子", birth="2000-01-01")
    register.perform("clerk", HouseholdChange(action="split", resident_codes=[son]))
    son_record = register.record(son, operator="clerk")
    assert son_record.is_head
    assert son_record.household_id != register.record(head, operator="clerk").household_id

    register.perform("clerk", HouseholdChange(action="merge", resident_codes=[son],
                                              target_code=head, relationships={son: "子"}))
    assert register.record(son, operator="clerk").household_id == register.record(
        head, operator="clerk").household_id

    register.perform("clerk", HouseholdChange(action="head", resident_codes=[wife],
                                              relationships={head: "夫"}))
    members = register.household(register.record(wife, operator="clerk").household_id or 0,
                                 operator="clerk")
    assert (members[0].resident_code, members[0].relationship) == (wife, "世帯主")
    assert {m.resident_code: m.relationship for m in members}[head] == "夫"


def test_the_head_cannot_be_split_off(register: Register) -> None:
    head = arrive(register, "鈴木　一郎", "スズキ　イチロウ", sex=Sex.MALE)
    arrive(register, "鈴木　花子", "スズキ　ハナコ", join=head, relationship="妻")
    with pytest.raises(Conflict, match="head"):
        register.perform("clerk", HouseholdChange(action="split", resident_codes=[head]))


def test_head_change_needs_the_former_heads_relationship(register: Register) -> None:
    head = arrive(register, "鈴木　一郎", "スズキ　イチロウ", sex=Sex.MALE)
    wife = arrive(register, "鈴木　花子", "スズキ　ハナコ", join=head, relationship="妻")
    with pytest.raises(InvalidInput, match="former head"):
        register.perform("clerk", HouseholdChange(action="head", resident_codes=[wife]))


def test_resident_code_change_keeps_the_old_code_in_history(register: Register) -> None:
    old = arrive(register)
    change_id = register.enter("clerk", ResidentCodeChange(resident_code=old))
    new = register.commit("chief", change_id).resident_codes[0]
    assert new != old and is_valid_resident_code(new)
    history = register.history(new, operator="clerk")
    assert [r.resident_code for r in history] == [old, new]
    assert register.record(old, operator="clerk").resident_code == new


def test_effective_date_in_the_future_is_refused(register: Register) -> None:
    code = arrive(register)
    with pytest.raises(InvalidInput, match="future"):
        register.perform("clerk", Death(resident_code=code),
                         effective_on=TODAY + timedelta(days=1))
    with pytest.raises(InvalidInput, match="future"):
        register.perform("clerk", Death(resident_code=code),
                         notified_on=TODAY + timedelta(days=1))


def test_an_auditor_cannot_enter_changes(register: Register) -> None:
    from jukibridge.errors import PermissionDenied

    code = arrive(register)
    with pytest.raises(PermissionDenied):
        register.perform("auditor", Death(resident_code=code))
    assert register.record(code, operator="auditor").state is RecordState.ACTIVE


def test_every_register_action_is_audited(register: Register,
                                          sessions: sessionmaker[Session]) -> None:
    code = arrive(register)
    register.record(code, operator="auditor")
    with sessions() as s:
        actions = list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.entry_id)))
    assert actions[-2:] == ["change.perform", "record.view"]
