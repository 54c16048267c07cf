"""Resident codes and individual numbers: issued by the national server, used by municipalities.

- Resident codes: the national server hands each municipality batches of unused codes (10
  random digits from a CSPRNG + check digit), recorded in its registry so that no code is ever
  handed out twice; the municipality keeps them in its pool and asks for another batch when the
  pool runs low. A code is used once.
- Individual numbers: the national server draws the 11 digits at random (nothing the
  municipality holds can be turned back into them) and records them; the municipality adds the
  check digit and records the 12-digit number.

Everything happens in the caller's transaction: a rolled-back change frees nothing that was ever
seen outside it, and a code drawn in it is simply never used.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from jukibridge.codes import (
    mod11_check_digit,
    random_individual_number,
    random_resident_code,
)
from jukibridge.tables import CodePoolEntry, IssuedCode
from pki.clock import Clock

POOL_BATCH = 100  # codes per hand-out
POOL_LOW_WATER = 20  # ask for more when fewer are left
NUMBER_BODY_DIGITS = 11


def _random_body() -> str:
    return random_individual_number()[:NUMBER_BODY_DIGITS]


def _draw(session: Session, clock: Clock, kind: str, municipality_code: str, count: int,
          draw: Callable[[], str]) -> list[str]:
    """``count`` fresh values, recorded in the national registry."""
    values: list[str] = []
    while len(values) < count:
        candidates = {draw() for _ in range(count - len(values))} - set(values)
        taken = set(session.scalars(select(IssuedCode.value).where(
            IssuedCode.value.in_(candidates))))
        values.extend(sorted(candidates - taken))
    now = clock.now()
    session.add_all(IssuedCode(value=v, kind=kind, issued_at=now,
                               municipality_code=municipality_code) for v in values)
    session.flush()
    return values


def hand_out_resident_codes(session: Session, clock: Clock, municipality_code: str,
                            count: int = POOL_BATCH) -> list[str]:
    """National server: a batch of never-used resident codes into the municipality's pool."""
    codes = _draw(session, clock, "resident_code", municipality_code, count,
                  random_resident_code)
    now = clock.now()
    session.add_all(CodePoolEntry(resident_code=code, municipality_code=municipality_code,
                                  received_at=now) for code in codes)
    session.flush()
    return codes


def issue_individual_number_body(session: Session, clock: Clock,
                                 municipality_code: str) -> str:
    """National server: the 11 random digits of a new individual number."""
    return _draw(session, clock, "individual_number", municipality_code, 1, _random_body)[0]


def pool_size(session: Session, municipality_code: str) -> int:
    return int(session.scalar(select(func.count()).select_from(CodePoolEntry).where(
        CodePoolEntry.municipality_code == municipality_code,
        CodePoolEntry.used_at.is_(None))) or 0)


class CodeIssuer:
    """A municipality's side: takes codes from its pool, numbers from the national server."""

    def __init__(self, session: Session, clock: Clock, municipality_code: str) -> None:
        self._session = session
        self._clock = clock
        self._municipality = municipality_code

    def resident_code(self) -> str:
        if pool_size(self._session, self._municipality) < POOL_LOW_WATER:
            hand_out_resident_codes(self._session, self._clock, self._municipality)
        entry = self._session.scalars(select(CodePoolEntry).where(
            CodePoolEntry.municipality_code == self._municipality,
            CodePoolEntry.used_at.is_(None)).order_by(CodePoolEntry.resident_code)
            .limit(1).with_for_update()).one()
        entry.used_at = self._clock.now()
        return entry.resident_code

    def individual_number(self) -> str:
        body = issue_individual_number_body(self._session, self._clock, self._municipality)
        return body + str(mod11_check_digit(body))
