"""Issuance of resident codes and individual numbers: random, unique, never reused."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from jukibridge.codes import random_individual_number, random_resident_code
from jukibridge.tables import IssuedCode
from pki.clock import Clock


class CodeIssuer:
    """Draws codes from the CSPRNG and records each one so that it is never issued again.

    The record is part of the caller's transaction: a rolled-back change frees nothing that
    was ever seen outside it.
    """

    def __init__(self, session: Session, clock: Clock) -> None:
        self._session = session
        self._clock = clock

    def resident_code(self) -> str:
        return self._issue("resident_code", random_resident_code)

    def individual_number(self) -> str:
        return self._issue("individual_number", random_individual_number)

    def _issue(self, kind: str, draw: object) -> str:
        assert callable(draw)
        for _ in range(100):
            value = str(draw())
            taken = self._session.scalar(select(IssuedCode.value).where(IssuedCode.value == value))
            if taken is None:
                self._session.add(IssuedCode(value=value, kind=kind, issued_at=self._clock.now()))
                return value
        raise RuntimeError(f"could not draw a fresh {kind}")  # 10^10 space: practically never
