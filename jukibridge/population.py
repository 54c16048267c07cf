"""Synthetic population: realistic households loaded fast into one municipality's register.

Names, readings and towns come from Faker's ``ja_JP`` locale (drawn once into pools, then picked
with a seeded ``random.Random``); resident codes and individual numbers are fresh, unique and
recorded in ``issued_codes`` like any other issuance. The whole run is one committed change
(``MOVE_IN``) and one transaction: it loads completely or not at all.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any

from faker import Faker
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from jukibridge import audit, cs
from jukibridge.codes import random_individual_number, random_resident_code
from jukibridge.errors import InvalidInput, NotFound
from jukibridge.identity import IDENTITY_ITEMS
from jukibridge.records import HEAD, ChangeKind, ChangeStatus, RecordState
from jukibridge.register import JST
from jukibridge.tables import (
    Base,
    Change,
    Household,
    IssuedCode,
    Municipality,
    Person,
    RegisterSettings,
    Snapshot,
)
from pki.clock import Clock
from pki.eras import PartialDate

MAX_SIZE = 5_000_000
SPACE = "\u3000"  # between family name and given name
FOREIGN_HOUSEHOLD_SHARE = 0.045  # foreign households are small: about 3% of residents
YEAR = 365
_CREATED = ["created", *IDENTITY_ITEMS]

_PERSONS = Base.metadata.tables[Person.__tablename__]
_HOUSEHOLDS = Base.metadata.tables[Household.__tablename__]
_SNAPSHOTS = Base.metadata.tables[Snapshot.__tablename__]
_ISSUED = Base.metadata.tables[IssuedCode.__tablename__]

# Nationality → (weight, family names, male given names, female given names), with readings.
_Names = tuple[tuple[str, str], ...]
_FOREIGN: dict[str, tuple[int, _Names, _Names, _Names]] = {
    "中国": (35,
           (("王", "ワン"), ("李", "リ"), ("張", "チャン"), ("劉", "リュウ"), ("陳", "チン")),
           (("偉", "ウェイ"), ("強", "チャン"), ("磊", "レイ"), ("浩", "ハオ")),
           (("芳", "ファン"), ("娜", "ナ"), ("静", "ジン"), ("麗", "リー"))),
    "韓国": (20,
           (("金", "キム"), ("李", "イ"), ("朴", "パク"), ("崔", "チェ")),
           (("民俊", "ミンジュン"), ("志勲", "ジフン"), ("成浩", "ソンホ")),
           (("知恩", "ジウン"), ("瑞妍", "ソヨン"), ("秀晶", "スジョン"))),
    "ベトナム": (20,
             (("NGUYEN", "グエン"), ("TRAN", "チャン"), ("LE", "レ"), ("PHAM", "ファム")),
             (("VAN AN", "ヴァン アン"), ("MINH DUC", "ミン ドゥック"),
              ("QUANG HUY", "クアン フイ")),
             (("THI LAN", "ティ ラン"), ("THI HOA", "ティ ホア"), ("NGOC ANH", "ゴック アイン"))),
    "フィリピン": (13,
              (("SANTOS", "サントス"), ("REYES", "レイエス"), ("CRUZ", "クルス")),
              (("JOSE", "ホセ"), ("MARK", "マーク"), ("JOHN PAUL", "ジョン ポール")),
              (("MARIA", "マリア"), ("ANGELICA", "アンジェリカ"), ("JOY", "ジョイ"))),
    "ブラジル": (12,
             (("SILVA", "シルバ"), ("OLIVEIRA", "オリベイラ"), ("SOUZA", "ソウザ")),
             (("LUCAS", "ルーカス"), ("PEDRO", "ペドロ"), ("RAFAEL", "ハファエル")),
             (("ANA", "アナ"), ("JULIANA", "ジュリアナ"), ("BEATRIZ", "ベアトリス"))),
}
_PERMANENT = frozenset({"永住者", "特別永住者"})
_SINGLE_STATUSES = (("永住者", 30), ("技術・人文知識・国際業務", 25), ("留学", 20),
                    ("技能実習", 15), ("特定技能", 10))
_FAMILY_STATUS = {"永住者": "永住者の配偶者等", "技術・人文知識・国際業務": "家族滞在",
                  "定住者": "定住者", "特別永住者": "特別永住者"}


@dataclass(frozen=True)
class PopulationReport:
    """What ``generate`` loaded: households and residents, all under one change."""

    municipality_code: str
    households: int
    residents: int
    change_id: int


@dataclass(slots=True)
class _Member:
    name: str
    kana: str
    born: date
    sex: int
    relationship: str
    unknown_day: bool = False
    former_surname: str | None = None
    alias: str | None = None
    alias_kana: str | None = None
    residence_status: str | None = None


@dataclass(slots=True)
class _Plan:
    members: list[_Member]
    nationality: str | None = None  # None: Japanese nationals


@lru_cache(maxsize=65536)
def _day_code(day: date) -> str:
    return PartialDate.of(day).code


def _parent_offset(first: date, last: date) -> tuple[int, int]:
    """Bounds, in days before ``first``, of a parent's birth: at least 20 years old at ``first``
    and at most 44 at ``last`` (20 × 366 days exceed 20 years; 45 × 365 − 1 fall short of 45)."""
    return 20 * 366, 45 * YEAR - (last - first).days - 1


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


class _Pools:
    """Faker draws made once; everything later is picked from them with the seeded ``rng``."""

    def __init__(self, seed: int | None) -> None:
        fake = Faker("ja_JP")
        if seed is not None:
            fake.seed_instance(seed)
        self.surnames = [_pair(fake.last_name_pair()) for _ in range(2000)]
        self.male = [_pair(fake.first_name_male_pair()) for _ in range(1000)]
        self.female = [_pair(fake.first_name_female_pair()) for _ in range(1000)]
        self.towns = sorted({fake.town() for _ in range(60)})
        self.prefectures = [fake.prefecture() for _ in range(200)]
        self.elsewhere = [f"{fake.prefecture()}{fake.city()}{fake.town()}" for _ in range(300)]


def _pair(value: tuple[str, str, str]) -> tuple[str, str]:
    return value[0], value[1]


class _Planner:
    """Plans households: who lives together, their names, sexes and birth dates."""

    def __init__(self, rng: random.Random, pools: _Pools, today: date) -> None:
        self.rng = rng
        self.pools = pools
        self.today = today
        self._nationalities = list(_FOREIGN)
        self._nationality_weights = [_FOREIGN[n][0] for n in self._nationalities]

    # -- dates ---------------------------------------------------------------------------------

    def born_aged(self, low: int, high: int) -> date:
        """A birth date of someone aged ``low``..``high`` today (inclusive)."""
        latest = self.today - timedelta(days=int(low * 365.25) + 1)
        earliest = self.today - timedelta(days=int((high + 1) * 365.25) - 1)
        return earliest + timedelta(days=self.rng.randint(0, (latest - earliest).days))

    def children(self, count: int, oldest_mode: float, oldest_max: float) -> list[date]:
        """Birth dates of up to ``count`` siblings, oldest first, none in the future."""
        oldest = self.rng.triangular(0, oldest_max, oldest_mode)
        births = [self.today - timedelta(days=int(oldest * 365.25))]
        while len(births) < count:
            nxt = births[-1] + timedelta(days=self.rng.randint(YEAR, 4 * YEAR))
            if nxt > self.today:
                break
            births.append(nxt)
        return births

    # -- names ---------------------------------------------------------------------------------

    def given(self, sex: int) -> tuple[str, str]:
        return self.rng.choice(self.pools.male if sex == 1 else self.pools.female)

    def person(self, surname: tuple[str, str], born: date, sex: int, relationship: str
               ) -> _Member:
        given = self.given(sex)
        unknown = _age(born, self.today) >= 80 and self.rng.random() < 0.02
        return _Member(name=surname[0] + SPACE + given[0], kana=surname[1] + SPACE + given[1],
                       born=born, sex=sex, relationship=relationship, unknown_day=unknown)

    # -- households ----------------------------------------------------------------------------

    def household(self, limit: int) -> _Plan:
        """One household of at most ``limit`` members."""
        if self.rng.random() < FOREIGN_HOUSEHOLD_SHARE:
            return self.foreign(limit)
        kind = self.rng.choices(("single", "couple", "family", "lone_parent", "three"),
                                weights=(38, 20, 26, 9, 7))[0]
        if limit < 2:
            kind = "single"
        elif limit < 3 and kind in ("family", "three"):
            kind = "couple"
        surname = self.rng.choice(self.pools.surnames)
        if kind == "single":
            low, high = self.rng.choices(((18, 29), (30, 49), (50, 64), (65, 79), (80, 100)),
                                         weights=(30, 25, 15, 18, 12))[0]
            return _Plan([self.person(surname, self.born_aged(low, high),
                                      self.rng.choice((1, 2)), HEAD)])
        if kind == "couple":
            low, high = self.rng.choices(((22, 39), (40, 64), (65, 95)), weights=(25, 25, 50))[0]
            head = self.person(surname, self.born_aged(low, high), 1, HEAD)
            return _Plan([head, self.spouse(surname, head)])
        if kind == "lone_parent":
            births = self.children(self.rng.choice((1, 1, 2)), 8, 25)[: limit - 1]
            sex = 2 if self.rng.random() < 0.85 else 1
            head = self.person(surname, self.parent_born(births), sex, HEAD)
            return _Plan([head, *self.offspring(surname, births, "子")])
        if kind == "family":
            births = self.children(self.rng.choice((1, 2, 2, 3)), 8, 32)[: limit - 2]
            return _Plan(self.parents_and_children(surname, births, HEAD, "子"))
        return self.three_generations(surname, limit)

    def parent_born(self, births: list[date], near: int | None = None) -> date:
        low, high = _parent_offset(births[0], births[-1])
        days = self.rng.randint(low, high) if near is None else max(low, min(high, near))
        return births[0] - timedelta(days=days)

    def parents_and_children(self, surname: tuple[str, str], births: list[date],
                             head_role: str, child_role: str) -> list[_Member]:
        """A married couple (husband first) and their children born on ``births``."""
        low, high = _parent_offset(births[0], births[-1])
        mother_days = self.rng.randint(low, high)
        father_days = mother_days + self.rng.randint(-3 * YEAR, 7 * YEAR)
        father_born = self.parent_born(births, near=father_days)
        mother_born = births[0] - timedelta(days=mother_days)
        father = self.person(surname, father_born, 1, head_role)
        mother = self.person(surname, mother_born, 2, "妻" if head_role == HEAD else "子の妻")
        if self.rng.random() < 0.05:
            mother.former_surname = self.rng.choice(self.pools.surnames)[0]
        return [father, mother, *self.offspring(surname, births, child_role)]

    def offspring(self, surname: tuple[str, str], births: list[date], role: str
                  ) -> list[_Member]:
        return [self.person(surname, b, self.rng.choice((1, 2)), role) for b in births]

    def spouse(self, surname: tuple[str, str], head: _Member) -> _Member:
        born = head.born + timedelta(days=self.rng.randint(-2 * YEAR, 5 * YEAR))
        born = min(born, self.today - timedelta(days=int(18.5 * 365.25)))
        return self.person(surname, born, 2, "妻")

    def three_generations(self, surname: tuple[str, str], limit: int) -> _Plan:
        """Either a couple with children and the head's parents, or grandparents as head."""
        if self.rng.random() < 0.5:
            births = self.children(self.rng.choice((1, 2, 3)), 5, 12)
            members = self.parents_and_children(surname, births, HEAD, "子")
            head = members[0]
            elders: list[_Member] = []
            grand_low, grand_high = _parent_offset(head.born, head.born)
            grand_days = self.rng.randint(grand_low, grand_high)
            for sex, role in ((1, "父"), (2, "母")):
                if self.rng.random() < 0.7:
                    days = grand_days + (0 if sex == 1 else self.rng.randint(-3 * YEAR, 0))
                    days = max(grand_low, min(grand_high, days))
                    elders.append(self.person(surname, head.born - timedelta(days=days), sex,
                                              role))
            if not elders:
                elders.append(self.person(surname, head.born - timedelta(days=grand_days), 2,
                                          "母"))
            return _Plan([*members, *elders][:limit])
        grandchildren = self.children(self.rng.choice((1, 2, 3)), 5, 12)
        son = self.parents_and_children(surname, grandchildren, "子", "孫")
        son_born = son[0].born
        low, high = _parent_offset(son_born, son_born)
        grand_days = self.rng.randint(low, high)
        grandfather = self.person(surname, son_born - timedelta(days=grand_days), 1, HEAD)
        members = [grandfather]
        if self.rng.random() < 0.75:
            days = max(low, min(high, grand_days + self.rng.randint(-3 * YEAR, 0)))
            members.append(self.person(surname, son_born - timedelta(days=days), 2, "妻"))
        return _Plan([*members, *son][:limit])

    def foreign(self, limit: int) -> _Plan:
        nationality = self.rng.choices(self._nationalities, self._nationality_weights)[0]
        _, surnames, males, females = _FOREIGN[nationality]
        surname = self.rng.choice(surnames)

        def member(born: date, sex: int, role: str, status: str) -> _Member:
            given = self.rng.choice(males if sex == 1 else females)
            return _Member(name=_spaced(surname[0], given[0]), kana=_spaced(surname[1], given[1]),
                           born=born, sex=sex, relationship=role, residence_status=status)

        shape = self.rng.choices(("single", "couple", "family"), weights=(70, 20, 10))[0]
        if limit < 2:
            shape = "single"
        elif limit < 3 and shape == "family":
            shape = "couple"
        if shape == "single":
            status = self.rng.choices([s for s, _ in _SINGLE_STATUSES],
                                      [w for _, w in _SINGLE_STATUSES])[0]
            if nationality == "韓国" and self.rng.random() < 0.4:
                status = "特別永住者"
            if status == "永住者":
                born = self.born_aged(25, 85)
            elif status == "特別永住者":
                born = self.born_aged(40, 95)
            else:
                born = self.born_aged(19, 35)
            members = [member(born, self.rng.choice((1, 2)), HEAD, status)]
        else:
            status = self.rng.choice(("永住者", "技術・人文知識・国際業務", "定住者"))
            family_status = _FAMILY_STATUS[status]
            if shape == "couple":
                head = member(self.born_aged(23, 70), 1, HEAD, status)
                members = [head, member(head.born + timedelta(days=self.rng.randint(0, 4 * YEAR)),
                                        2, "妻", family_status)]
            else:
                births = self.children(self.rng.choice((1, 2)), 5, 15)[: limit - 2]
                low, high = _parent_offset(births[0], births[-1])
                days = self.rng.randint(low, high)
                wife_days = max(low, min(high, days - self.rng.randint(0, 4 * YEAR)))
                members = [member(births[0] - timedelta(days=days), 1, HEAD, status),
                           member(births[0] - timedelta(days=wife_days), 2, "妻", family_status)]
                members += [member(b, self.rng.choice((1, 2)), "子", family_status)
                            for b in births]
        if nationality in ("中国", "韓国") and self.rng.random() < 0.3:
            alias_surname = self.rng.choice(self.pools.surnames)
            for m in members:
                given = self.given(m.sex)
                m.alias = alias_surname[0] + SPACE + given[0]
                m.alias_kana = alias_surname[1] + SPACE + given[1]
        return _Plan(members[:limit], nationality=nationality)


def _spaced(family: str, given: str) -> str:
    return SPACE.join(f"{family} {given}".split())


@dataclass
class _Writer:
    """Turns plans into rows with ids and codes of their own, and inserts them in batches."""

    session: Session
    rng: random.Random
    pools: _Pools
    today: date
    address_prefix: str
    municipality_code: str
    snapshot_base: dict[str, Any]
    taken: set[str]
    issued_at: datetime
    next_person: int
    next_household: int
    households: list[dict[str, Any]] = field(default_factory=list)
    persons: list[dict[str, Any]] = field(default_factory=list)
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    issued: list[dict[str, Any]] = field(default_factory=list)

    def fresh(self, kind: str, draw: Callable[[], str]) -> str:
        """A value never handed out, recorded in the national registry (for an individual
        number, its 11-digit body, as the national server issues it)."""
        while True:
            value = draw()
            recorded = value[:11] if kind == "individual_number" else value
            if recorded not in self.taken:
                self.taken.add(recorded)
                self.issued.append({"value": recorded, "kind": kind,
                                    "issued_at": self.issued_at,
                                    "municipality_code": self.municipality_code})
                return value

    def random_day(self, earliest: date, latest: date) -> date:
        if latest <= earliest:
            return latest
        return earliest + timedelta(days=self.rng.randint(0, (latest - earliest).days))

    def add(self, plan: _Plan, municipality_code: str) -> None:
        rng, today = self.rng, self.today
        household_id = self.next_household
        self.next_household += 1
        self.households.append({"household_id": household_id,
                                "municipality_code": municipality_code,
                                "created_at": self.issued_at})
        head = plan.members[0]
        adults = [m.born for m in plan.members if _age(m.born, today) >= 18] or [head.born]
        # The household arrived once its youngest adult was 18 (or was born here).
        settled = max(adults) + timedelta(days=int(18 * 365.25))
        arrived = self.random_day(min(settled, today), today)
        fixed = arrived if rng.random() < 0.7 else self.random_day(arrived, today)
        town = rng.choice(self.pools.towns)
        chome, ban, go = rng.randint(1, 5), rng.randint(1, 30), rng.randint(1, 25)
        address = f"{self.address_prefix}{town}{chome}丁目{ban}番{go}号"
        previous = (f"{rng.choice(self.pools.elsewhere)}{rng.randint(1, 9)}丁目"
                    f"{rng.randint(1, 30)}番{rng.randint(1, 25)}号")
        if plan.nationality is None:
            if rng.random() < 0.5:
                domicile = f"{self.address_prefix}{town}{chome}丁目{ban}番地"
            else:
                domicile = (f"{rng.choice(self.pools.prefectures)}{rng.choice(self.pools.towns)}"
                            f"{rng.randint(1, 3000)}番地")
        insured = rng.random() < 0.25
        young = any(_age(m.born, today) < 15 for m in plan.members)
        for index, member in enumerate(plan.members):
            age = _age(member.born, today)
            became = max(member.born, arrived)
            member_fixed = max(member.born, fixed)
            notified = min(member_fixed + timedelta(days=rng.randint(0, 14)), today)
            birth_code = (PartialDate(None, member.born.year, member.born.month).code
                          if member.unknown_day else _day_code(member.born))
            resident_code = self.fresh("resident_code", random_resident_code)
            person_id = self.next_person
            self.next_person += 1
            row = dict(self.snapshot_base)
            row.update(
                person_id=person_id, resident_code=resident_code,
                individual_number=self.fresh("individual_number", random_individual_number),
                name=member.name, name_kana=member.kana, former_surname=member.former_surname,
                alias=member.alias, alias_kana=member.alias_kana, birth_date=birth_code,
                sex=member.sex, household_id=household_id, relationship=member.relationship,
                address=address, previous_address=previous if became > member.born else None,
                became_resident_on=_day_code(became), address_fixed_on=_day_code(member_fixed),
                address_notified_on=notified,
                national_health_insurance=insured and age < 75,
                long_term_care=age >= 65,
                national_pension=20 <= age <= 59,
                child_allowance=index == 0 and young,
            )
            if plan.nationality is None:
                row.update(foreign_resident=False, nationality=None, residence_status=None,
                           residence_period_end=None, domicile=domicile,
                           domicile_head=self._domicile_head(plan, member),
                           electoral_roll=age >= 18)
            else:
                status = member.residence_status
                row.update(foreign_resident=True, nationality=plan.nationality,
                           residence_status=status,
                           residence_period_end=None if status in _PERMANENT
                           else today + timedelta(days=rng.randint(30, 5 * YEAR)),
                           domicile=None, domicile_head=None, electoral_roll=False)
            self.snapshots.append(row)
            self.persons.append({"person_id": person_id, "municipality_code": municipality_code,
                                 "resident_code": resident_code, "current_seq": 1,
                                 "state": RecordState.ACTIVE.value,
                                 "household_id": household_id, "name_kana": member.kana,
                                 "birth_date": birth_code})

    @staticmethod
    def _domicile_head(plan: _Plan, member: _Member) -> str:
        """The first person of the family register: the head, or the head's father for the
        head's parents."""
        if member.relationship in ("父", "母"):
            elders = [m for m in plan.members if m.relationship == "父"]
            return elders[0].name if elders else member.name
        return plan.members[0].name

    def flush(self) -> None:
        """Insert what was planned since the last flush (parents before children), and the
        identity events that tell the upper tiers about the new residents."""
        events = [cs.event_row(row, changed=_CREATED, reason=row["kind"],
                               changed_on=row["effective_on"], recorded_at=self.issued_at,
                               change_id=row["change_id"]) for row in self.snapshots]
        for table, rows in ((_HOUSEHOLDS, self.households), (_PERSONS, self.persons),
                            (_SNAPSHOTS, self.snapshots), (_ISSUED, self.issued)):
            if rows:
                self.session.execute(insert(table), rows)
            rows.clear()
        if events:
            cs.write(self.session, events[0]["municipality_code"], events)


def generate(sessions: sessionmaker[Session], clock: Clock, municipality_code: str, size: int,
             *, seed: int | None = None, actor: str = "system",
             progress: Callable[[int], None] | None = None, batch: int = 5000
             ) -> PopulationReport:
    """Load ``size`` synthetic residents, in realistic households, into a municipality's register.

    Raises ``InvalidInput`` for a size outside 1..5,000,000 and ``NotFound`` when the
    municipality keeps no register here. The same ``seed`` gives the same people (names,
    households, dates); resident codes and individual numbers are always freshly drawn.
    ``progress`` is called with the number of residents loaded after each batch.
    """
    if not 1 <= size <= MAX_SIZE:
        raise InvalidInput(f"size must be between 1 and {MAX_SIZE:,}", field="size")
    batch = max(1, batch)
    with sessions() as session, session.begin():
        settings = session.get(RegisterSettings, municipality_code)
        municipality = session.get(Municipality, municipality_code)
        if settings is None or municipality is None:
            raise NotFound(f"municipality {municipality_code} keeps no register here",
                           municipality_code=municipality_code)
        now = clock.now()
        today = now.astimezone(JST).date()
        postgres = session.get_bind().dialect.name == "postgresql"
        if postgres:
            # Nobody else may take ids while we allocate them ourselves.
            session.execute(text("LOCK TABLE households, persons IN SHARE ROW EXCLUSIVE MODE"))
        remarks = f"synthetic population ({size:,} residents)"
        change = Change(municipality_code=municipality_code, kind=ChangeKind.MOVE_IN.name,
                        status=ChangeStatus.COMMITTED.value,
                        payload=json.dumps({"synthetic_population": size}),
                        effective_on=today, notified_on=today, remarks=remarks,
                        entered_by=actor, entered_at=now, committed_by=actor, committed_at=now)
        session.add(change)
        session.flush()  # on SQLite this takes the write lock before ids are read
        max_person = session.scalar(select(func.max(Person.person_id))) or 0
        max_household = session.scalar(select(func.max(Household.household_id))) or 0
        taken = set(session.scalars(select(IssuedCode.value)))

        rng = random.Random(seed)
        pools = _Pools(seed)
        planner = _Planner(rng, pools, today)
        base = {"seq": 1, "change_id": change.change_id, "kind": ChangeKind.MOVE_IN.name,
                "effective_on": today, "notified_on": today, "operator": actor,
                "remarks": remarks, "recorded_at": now, "corrects_seq": None,
                "state": RecordState.ACTIVE.value, "municipality_code": municipality_code,
                "removal_reason": None, "removed_on": None, "destination": None,
                "destination_confirmed_on": None}
        writer = _Writer(session=session, rng=rng, pools=pools, today=today,
                         address_prefix=municipality.prefecture + municipality.name,
                         municipality_code=municipality_code,
                         snapshot_base=base, taken=taken,
                         issued_at=now, next_person=max_person + 1,
                         next_household=max_household + 1)
        done = households = pending = 0
        while done < size:
            plan = planner.household(size - done)
            writer.add(plan, municipality_code)
            done += len(plan.members)
            pending += len(plan.members)
            households += 1
            if pending >= batch or done == size:
                writer.flush()
                pending = 0
                if progress is not None:
                    progress(done)
        if postgres:
            for table, column in (("persons", "person_id"), ("households", "household_id")):
                session.execute(text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                    f"(SELECT max({column}) FROM {table}))"))
        audit.record(session, clock, actor=actor, action="population.generate",
                     target=municipality_code, municipality_code=municipality_code,
                     details={"residents": done, "households": households})
        return PopulationReport(municipality_code=municipality_code, households=households,
                                residents=done, change_id=change.change_id)
