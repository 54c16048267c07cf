"""The table of local governments and the municipalities that keep a register here."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib import resources

from sqlalchemy import select
from sqlalchemy.orm import Session

from jukibridge import audit, cs
from jukibridge.codes import validate_municipality_code
from jukibridge.errors import Conflict, NotFound
from jukibridge.records import DEFAULT_SUPERVISOR_KINDS, ChangeKind
from jukibridge.tables import Municipality, RegisterSettings
from pki.clock import Clock


@dataclass(frozen=True)
class MunicipalityInfo:
    code: str
    prefecture_code: str
    prefecture: str
    name: str
    name_kana: str

    @property
    def is_prefecture(self) -> bool:
        return self.code[2:5] == "000"

    @property
    def full_name(self) -> str:
        return self.name if self.is_prefecture else self.prefecture + self.name


def shipped_table() -> list[MunicipalityInfo]:
    """The shipped table of real local governments (codes checked on load)."""
    text = resources.files("jukibridge").joinpath("data/municipalities.csv").read_text("utf-8")
    rows = [MunicipalityInfo(**row) for row in csv.DictReader(text.splitlines())]
    for row in rows:
        validate_municipality_code(row.code)
    return rows


def load_table(session: Session) -> int:
    """Insert the shipped table rows that are missing; returns how many were added."""
    known = set(session.scalars(select(Municipality.code)))
    added = 0
    for row in shipped_table():
        if row.code not in known:
            session.add(Municipality(code=row.code, prefecture_code=row.prefecture_code,
                                     prefecture=row.prefecture, name=row.name,
                                     name_kana=row.name_kana))
            added += 1
    session.flush()
    return added


def open_register(session: Session, clock: Clock, code: str, *, actor: str = "system",
                  supervisor_kinds: frozenset[ChangeKind] = DEFAULT_SUPERVISOR_KINDS
                  ) -> RegisterSettings:
    """Start keeping the register of municipality ``code`` here."""
    code = validate_municipality_code(code)
    municipality = session.get(Municipality, code)
    if municipality is None:
        raise NotFound(f"{code} is not in the municipality table", municipality_code=code)
    if code[2:5] == "000":
        raise Conflict(f"{code} is a prefecture, not a municipality", municipality_code=code)
    if session.get(RegisterSettings, code) is not None:
        raise Conflict(f"{municipality.name} already keeps its register here",
                       municipality_code=code)
    settings = RegisterSettings(
        municipality_code=code,
        supervisor_kinds=",".join(sorted(k.name for k in supervisor_kinds)),
        opened_at=clock.now(),
    )
    session.add(settings)
    cs.open_outbox(session, code)
    audit.record(session, clock, actor=actor, action="register.open", target=code,
                 municipality_code=code)
    return settings


def registers(session: Session) -> list[MunicipalityInfo]:
    """Municipalities that keep their register here."""
    rows = session.execute(select(Municipality).join(
        RegisterSettings, RegisterSettings.municipality_code == Municipality.code)
        .order_by(Municipality.code)).scalars()
    return [MunicipalityInfo(code=m.code, prefecture_code=m.prefecture_code,
                             prefecture=m.prefecture, name=m.name, name_kana=m.name_kana)
            for m in rows]
