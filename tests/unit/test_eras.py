"""Partial dates and the Japanese era calendar."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pki.eras import DateError, Era, PartialDate


@pytest.mark.parametrize(
    ("day", "era", "shown"),
    [
        (date(1926, 12, 24), Era.TAISHO, "大正15年12月24日"),
        (date(1926, 12, 25), Era.SHOWA, "昭和元年12月25日"),
        (date(1989, 1, 7), Era.SHOWA, "昭和64年1月7日"),
        (date(1989, 1, 8), Era.HEISEI, "平成元年1月8日"),
        (date(2019, 4, 30), Era.HEISEI, "平成31年4月30日"),
        (date(2019, 5, 1), Era.REIWA, "令和元年5月1日"),
    ],
)
def test_era_boundaries(day: date, era: Era, shown: str) -> None:
    value = PartialDate.of(day)
    assert value.era is era
    assert value.japanese() == shown


def test_unknown_day_and_month_keep_their_precision() -> None:
    assert PartialDate.parse("1950-03").japanese() == "昭和25年3月 日不詳"
    assert PartialDate.parse("1950").japanese() == "昭和25年 月日不詳"
    assert PartialDate.parse("1950-03").code == "319500300"


def test_era_only_and_fully_unknown_dates() -> None:
    assert PartialDate.parse("昭和").japanese() == "昭和 年不詳"
    assert PartialDate.parse("昭和").code == "300000000"
    assert PartialDate.parse("不詳").code == "000000000"
    assert PartialDate.parse("不詳").japanese() == "不詳"


def test_a_year_that_straddles_two_eras_needs_its_era() -> None:
    assert PartialDate.parse("1989").era is None
    assert PartialDate.parse("平成元年").era is Era.HEISEI
    assert PartialDate.parse("昭和64年").era is Era.SHOWA


@pytest.mark.parametrize("text", ["昭和25年3月15日", "S25.3.15", "s25-3-15", "1950-03-15",
                                  "319500315"])
def test_the_usual_ways_of_writing_a_date(text: str) -> None:
    assert PartialDate.parse(text) == PartialDate.of(date(1950, 3, 15))


@pytest.mark.parametrize("text", ["1950-02-30", "平成32年", "昭和65年1月1日", "1950-13",
                                  "yesterday", "令和0年"])
def test_impossible_dates_are_refused(text: str) -> None:
    with pytest.raises(DateError):
        PartialDate.parse(text)


@given(st.dates(min_value=date(1868, 10, 23), max_value=date(2100, 12, 31)))
def test_code_and_japanese_forms_round_trip(day: date) -> None:
    value = PartialDate.of(day)
    assert PartialDate.from_code(value.code) == value
    assert PartialDate.parse(value.japanese()) == value
    assert value.as_date() == day


@given(st.dates(min_value=date(1868, 10, 23), max_value=date(2100, 12, 31)),
       st.dates(min_value=date(1868, 10, 23), max_value=date(2100, 12, 31)))
def test_codes_sort_like_the_dates(a: date, b: date) -> None:
    assert (PartialDate.of(a).code < PartialDate.of(b).code) == (a < b)
