"""Validity periods and the age rule of end-entity certificates (DESIGN.md §4).

Pure functions of the issuance instant and the holder's birth date. Days are Japanese days: a
certificate is valid to the end of its last day in JST, 23:59:59+09:00 = 14:59:59Z.

- ``ValidityRule.THREE_YEARS`` (default, the 住基カード-era rule of the seed documents): valid to
  the end of the third anniversary of the issuance day; an issuance on 29 February ends on
  28 February (民法 §143(2): no corresponding day, the period ends on the month's last day).
- ``ValidityRule.FIFTH_BIRTHDAY`` (the My Number card rule): valid to the end of the fifth birthday
  after the issuance day (a birthday on the issuance day itself does not count). A 29 February
  birthday falls on 28 February in common years. When the birth month or day is unknown, the
  earliest possible fifth birthday is used: never a longer validity than the truth.

The age rule follows 年齢計算ニ関スル法律: one attains an age at the end of the day before the
birthday, so a holder is 15 on the 15th birthday (1 March in a common year for a 29 February
birth) and not on the day before.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from enum import Enum

from pki.eras import PartialDate

JST = timezone(timedelta(hours=9), "JST")
END_OF_DAY_JST = time(23, 59, 59)  # = 14:59:59Z
MIN_SIGNING_AGE = 15  # no signing certificate under 15 (DESIGN.md §4)
THREE_YEARS = 3
BIRTHDAYS = 5


class ValidityError(ValueError):
    """A validity that cannot be computed (naive instant, impossible dates)."""


class ValidityRule(Enum):
    THREE_YEARS = "three-years"
    FIFTH_BIRTHDAY = "fifth-birthday"


@dataclass(frozen=True)
class Validity:
    """notBefore and notAfter, aware UTC, whole seconds."""

    not_before: datetime
    not_after: datetime


def end_of_day(day: date) -> datetime:
    """The last second of a JST day, in UTC (14:59:59Z)."""
    return datetime.combine(day, END_OF_DAY_JST, JST).astimezone(UTC)


def jst_day(instant: datetime) -> date:
    """The JST calendar day of an aware instant."""
    return _aware(instant).astimezone(JST).date()


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValidityError("the issuance instant must be an aware datetime")
    return instant


def _on_or_last(year: int, month: int, day: int) -> date:
    """``year-month-day``, or the month's last day when the day does not exist (29 Feb)."""
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def _candidate_birthdays(birth: PartialDate) -> list[tuple[int, int]]:
    """Every (month, day) the birth date may stand for."""
    if birth.month is not None and birth.day is not None:
        return [(birth.month, birth.day)]
    months = [birth.month] if birth.month is not None else list(range(1, 13))
    leap_year = 2000  # so that 29 February is a candidate when the month may be February
    return [(m, d) for m in months for d in range(1, calendar.monthrange(leap_year, m)[1] + 1)]


def fifth_birthday_after(issued_on: date, birth: PartialDate) -> date:
    """The earliest day that can be the holder's fifth birthday after ``issued_on``."""
    best: date | None = None
    for month, day in _candidate_birthdays(birth):
        first = _on_or_last(issued_on.year, month, day)
        if first <= issued_on:
            first = _on_or_last(issued_on.year + 1, month, day)
        fifth = _on_or_last(first.year + BIRTHDAYS - 1, month, day)
        best = fifth if best is None else min(best, fifth)
    assert best is not None
    return best


def last_valid_day(issued_on: date, birth: PartialDate, rule: ValidityRule) -> date:
    """The last JST day of validity under ``rule``."""
    if rule is ValidityRule.THREE_YEARS:
        return _on_or_last(issued_on.year + THREE_YEARS, issued_on.month, issued_on.day)
    return fifth_birthday_after(issued_on, birth)


def certificate_validity(
    issued_at: datetime, birth: PartialDate, rule: ValidityRule = ValidityRule.THREE_YEARS
) -> Validity:
    """notBefore = the issuance instant (seconds); notAfter = end of the last valid day (JST)."""
    not_before = _aware(issued_at).astimezone(UTC).replace(microsecond=0)
    return Validity(not_before, end_of_day(last_valid_day(jst_day(issued_at), birth, rule)))


def signing_validity(
    issued_at: datetime, birth: PartialDate, rule: ValidityRule = ValidityRule.THREE_YEARS
) -> Validity:
    """Validity of a signing certificate (署名用電子証明書)."""
    return certificate_validity(issued_at, birth, rule)


def authentication_validity(
    issued_at: datetime, birth: PartialDate, rule: ValidityRule = ValidityRule.THREE_YEARS
) -> Validity:
    """Validity of an authentication certificate (利用者証明用電子証明書): the same rules."""
    return certificate_validity(issued_at, birth, rule)


def age_reached_on(birth: date, years: int) -> date:
    """The first day on which someone born on ``birth`` is ``years`` old (Japanese law)."""
    if birth.month == 2 and birth.day == 29 and not calendar.isleap(birth.year + years):
        return date(birth.year + years, 3, 1)
    return date(birth.year + years, birth.month, birth.day)


def may_hold_signing_certificate(birth: PartialDate, on: date) -> bool:
    """Whether the holder is certainly at least 15 on ``on``.

    Conservative with incomplete dates: the latest day the birth date may stand for is taken
    (the youngest the holder can be); with the year unknown that is the last day of the era,
    and with neither year nor a past era known the answer is no.
    """
    latest = birth.latest()
    if latest is None and birth.era is not None and birth.era.last_day != date.max:
        latest = birth.era.last_day
    if latest is None:
        return False
    return on >= age_reached_on(latest, MIN_SIGNING_AGE)
