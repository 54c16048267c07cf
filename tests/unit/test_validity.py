"""Validity periods (3 years, or until the 5th birthday) and the under-15 rule."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pki.eras import Era, PartialDate
from pki.validity import (
    JST,
    ValidityError,
    ValidityRule,
    age_reached_on,
    authentication_validity,
    end_of_day,
    fifth_birthday_after,
    may_hold_signing_certificate,
    signing_validity,
)

BORN = PartialDate.of(date(1975, 3, 15))
LEAP_BORN = PartialDate.of(date(2004, 2, 29))


def test_not_before_is_the_issuance_instant_in_whole_seconds() -> None:
    issued = datetime(2026, 4, 1, 1, 2, 3, 456789, tzinfo=UTC)
    validity = signing_validity(issued, BORN)
    assert validity.not_before == datetime(2026, 4, 1, 1, 2, 3, tzinfo=UTC)
    assert validity.not_before.tzinfo is UTC


def test_three_years_end_at_14_59_59z_on_the_third_anniversary() -> None:
    validity = signing_validity(datetime(2026, 4, 1, 1, 0, tzinfo=UTC), BORN)
    assert validity.not_after == datetime(2029, 4, 1, 14, 59, 59, tzinfo=UTC)
    assert validity.not_after.astimezone(JST).time().isoformat() == "23:59:59"


def test_the_day_is_the_japanese_day() -> None:
    # 2026-03-31 16:00Z is already 1 April in Japan
    validity = signing_validity(datetime(2026, 3, 31, 16, 0, tzinfo=UTC), BORN)
    assert validity.not_after == datetime(2029, 4, 1, 14, 59, 59, tzinfo=UTC)
    jst_input = datetime(2026, 4, 1, 0, 30, tzinfo=timezone(timedelta(hours=9)))
    assert signing_validity(jst_input, BORN).not_after == validity.not_after


def test_an_issuance_on_29_february_ends_on_28_february() -> None:
    validity = signing_validity(datetime(2028, 2, 29, 3, 0, tzinfo=UTC), BORN)
    assert validity.not_after == datetime(2031, 2, 28, 14, 59, 59, tzinfo=UTC)


def test_fifth_birthday_rule() -> None:
    issued = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
    validity = signing_validity(issued, BORN, ValidityRule.FIFTH_BIRTHDAY)
    # birthdays after issuance: 2027, 2028, 2029, 2030, 2031-03-15
    assert validity.not_after == end_of_day(date(2031, 3, 15))


def test_a_birthday_on_the_issuance_day_does_not_count() -> None:
    assert fifth_birthday_after(date(2026, 3, 15), BORN) == date(2031, 3, 15)
    assert fifth_birthday_after(date(2026, 3, 14), BORN) == date(2030, 3, 15)


def test_a_leap_day_birthday_falls_on_28_february_in_common_years() -> None:
    assert fifth_birthday_after(date(2026, 4, 1), LEAP_BORN) == date(2031, 2, 28)
    assert fifth_birthday_after(date(2027, 4, 1), LEAP_BORN) == date(2032, 2, 29)


def test_an_unknown_birthday_takes_the_earliest_possible_fifth_birthday() -> None:
    issued_on = date(2026, 4, 1)
    assert fifth_birthday_after(issued_on, PartialDate(None, 1975, 3)) == date(2031, 3, 1)
    assert fifth_birthday_after(issued_on, PartialDate(None, 1975)) == date(2030, 4, 2)
    assert fifth_birthday_after(issued_on, PartialDate.unknown(Era.SHOWA)) == date(2030, 4, 2)


def test_authentication_uses_the_same_rules() -> None:
    issued = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
    for rule in ValidityRule:
        assert authentication_validity(issued, BORN, rule) == signing_validity(issued, BORN, rule)


def test_a_naive_instant_is_refused() -> None:
    with pytest.raises(ValidityError):
        signing_validity(datetime(2026, 4, 1, 10, 0), BORN)


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 12, 31),
                 timezones=st.just(UTC)),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2090, 12, 31)),
    st.sampled_from(list(ValidityRule)),
)
def test_every_validity_ends_at_14_59_59z_within_five_years(
    issued: datetime, born: date, rule: ValidityRule
) -> None:
    validity = signing_validity(issued, PartialDate.of(born), rule)
    assert validity.not_after.time().isoformat() == "14:59:59"
    assert validity.not_before < validity.not_after
    assert validity.not_after - validity.not_before <= timedelta(days=5 * 366 + 1)


# -- under 15 -------------------------------------------------------------------------------------

def test_fifteen_on_the_birthday_not_the_day_before() -> None:
    born = PartialDate.of(date(2011, 4, 2))
    assert not may_hold_signing_certificate(born, date(2026, 4, 1))
    assert may_hold_signing_certificate(born, date(2026, 4, 2))
    assert may_hold_signing_certificate(born, date(2026, 4, 3))


def test_a_leap_day_birth_is_fifteen_on_1_march_of_a_common_year() -> None:
    born = PartialDate.of(date(2012, 2, 29))
    assert age_reached_on(date(2012, 2, 29), 15) == date(2027, 3, 1)
    assert not may_hold_signing_certificate(born, date(2027, 2, 28))
    assert may_hold_signing_certificate(born, date(2027, 3, 1))
    assert age_reached_on(date(2012, 2, 29), 16) == date(2028, 2, 29)


def test_an_unknown_day_counts_from_the_last_day_of_the_month() -> None:
    born = PartialDate(None, 2011, 4)
    assert not may_hold_signing_certificate(born, date(2026, 4, 29))
    assert may_hold_signing_certificate(born, date(2026, 4, 30))


def test_an_unknown_month_counts_from_31_december() -> None:
    born = PartialDate(None, 2011)
    assert not may_hold_signing_certificate(born, date(2026, 12, 30))
    assert may_hold_signing_certificate(born, date(2026, 12, 31))


def test_an_unknown_year_counts_from_the_end_of_its_era() -> None:
    assert may_hold_signing_certificate(PartialDate.unknown(Era.SHOWA), date(2026, 4, 1))
    assert not may_hold_signing_certificate(PartialDate.unknown(Era.HEISEI), date(2034, 4, 29))
    assert may_hold_signing_certificate(PartialDate.unknown(Era.HEISEI), date(2034, 4, 30))


def test_an_unknown_year_without_a_past_era_never_qualifies() -> None:
    assert not may_hold_signing_certificate(PartialDate.unknown(), date(2026, 4, 1))
    assert not may_hold_signing_certificate(PartialDate.unknown(Era.REIWA), date(2090, 4, 1))
