"""Japanese era calendar (和暦) and dates of partial precision.

Register dates may be incomplete (day or month unknown, only the era known, or nothing known).
``PartialDate`` keeps exactly what is known. Its compact form ``EYYYYMMDD`` (era digit 1 Meiji …
5 Reiwa, 0 unknown, then the Gregorian date with ``00`` for unknown parts) is the birth-date form
of the signing certificate's SAN (DESIGN.md §4) and sorts chronologically, so the register stores
dates in that form too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import Enum


class Era(Enum):
    """Modern eras with their code digit, kanji name, letter and first day (Gregorian)."""

    MEIJI = (1, "明治", "M", date(1868, 10, 23))
    TAISHO = (2, "大正", "T", date(1912, 7, 30))
    SHOWA = (3, "昭和", "S", date(1926, 12, 25))
    HEISEI = (4, "平成", "H", date(1989, 1, 8))
    REIWA = (5, "令和", "R", date(2019, 5, 1))

    def __init__(self, digit: int, kanji: str, letter: str, first_day: date) -> None:
        self.digit = digit
        self.kanji = kanji
        self.letter = letter
        self.first_day = first_day

    @property
    def last_day(self) -> date:
        """The last day of the era (``date.max`` for the current one)."""
        later = [e for e in Era if e.digit == self.digit + 1]
        return date.fromordinal(later[0].first_day.toordinal() - 1) if later else date.max

    @classmethod
    def of(cls, day: date) -> Era:
        """The era a Gregorian day belongs to."""
        for era in reversed(list(cls)):
            if day >= era.first_day:
                return era
        raise DateError(f"{day.isoformat()} is before the Meiji era")

    @classmethod
    def from_digit(cls, digit: int) -> Era:
        for era in cls:
            if era.digit == digit:
                return era
        raise DateError(f"unknown era digit {digit}")

    @classmethod
    def from_name(cls, name: str) -> Era:
        """An era from its kanji name (昭和) or its letter (S)."""
        for era in cls:
            if name in (era.kanji, era.letter, era.letter.lower()):
                return era
        raise DateError(f"unknown era {name!r}")

    def year_of(self, gregorian_year: int) -> int:
        """The era year (1 = 元年) of a Gregorian year."""
        return gregorian_year - self.first_day.year + 1


class DateError(ValueError):
    """A date that cannot exist or cannot be read."""


_ISO = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_JAPANESE = re.compile(
    r"^(明治|大正|昭和|平成|令和|[MTSHRmtshr])\s*"
    r"(?:(元|\d{1,2})[年.\-/]?\s*(?:(\d{1,2})[月.\-/]?\s*(?:(\d{1,2})日?)?)?)?$"
)
_UNKNOWN_WORDS = {"", "不詳", "unknown"}


@dataclass(frozen=True)
class PartialDate:
    """A date of which the day, the month, the year or all may be unknown.

    ``era`` may stand alone (year unknown, era known). When the year is known the era is derived;
    it is kept as ``None`` only when the known parts straddle an era change (e.g. 1989, month
    unknown) and no era was given.
    """

    era: Era | None
    year: int | None
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if self.day is not None and self.month is None:
            raise DateError("a day needs its month")
        if self.month is not None and self.year is None:
            raise DateError("a month needs its year")
        if self.month is not None and not 1 <= self.month <= 12:
            raise DateError(f"month {self.month} does not exist")
        if self.year is not None:
            if not 1868 <= self.year <= 9999:
                raise DateError(f"year {self.year} is out of range")
            first, last = self._bounds()
            if first < Era.MEIJI.first_day and last < Era.MEIJI.first_day:
                raise DateError(f"{self.year} is before the Meiji era")
            first = max(first, Era.MEIJI.first_day)
            earliest, latest = Era.of(first), Era.of(last)
            if self.era is None and earliest is latest:
                object.__setattr__(self, "era", earliest)
            elif self.era is not None and not (
                earliest.digit <= self.era.digit <= latest.digit
            ):
                raise DateError(
                    f"{self.year} does not fall in the {self.era.kanji} era"
                )

    def _bounds(self) -> tuple[date, date]:
        assert self.year is not None
        try:
            if self.month is None:
                return date(self.year, 1, 1), date(self.year, 12, 31)
            if self.day is None:
                nxt = date(self.year + (self.month == 12), self.month % 12 + 1, 1)
                return date(self.year, self.month, 1), date.fromordinal(nxt.toordinal() - 1)
            day = date(self.year, self.month, self.day)
        except ValueError as exc:
            raise DateError(f"{self.year}-{self.month}-{self.day} does not exist") from exc
        return day, day

    # -- constructors -------------------------------------------------------------------------

    @classmethod
    def of(cls, day: date) -> PartialDate:
        """A complete date."""
        return cls(None, day.year, day.month, day.day)

    @classmethod
    def unknown(cls, era: Era | None = None) -> PartialDate:
        """Nothing known but, perhaps, the era."""
        return cls(era, None)

    @classmethod
    def from_code(cls, code: str) -> PartialDate:
        """Read the ``EYYYYMMDD`` form."""
        if not re.fullmatch(r"\d{9}", code):
            raise DateError(f"{code!r} is not an EYYYYMMDD date")
        digit, year, month, day = int(code[0]), int(code[1:5]), int(code[5:7]), int(code[7:9])
        era = Era.from_digit(digit) if digit else None
        if (day and not month) or (month and not year):
            raise DateError(f"{code!r} has a day without a month or a month without a year")
        return cls(era, year or None, month or None, day or None)

    @classmethod
    def parse(cls, text: str) -> PartialDate:
        """Read a date as people type it.

        Accepts ISO forms (``1950-03-15``, ``1950-03``, ``1950``), era forms (``昭和25年3月15日``,
        ``S25.3.15``, ``平成元年``, ``昭和`` alone), the code form ``EYYYYMMDD`` and ``不詳``.
        """
        text = text.strip().replace("　", " ")
        if text in _UNKNOWN_WORDS:
            return cls.unknown()
        if re.fullmatch(r"\d{9}", text):
            return cls.from_code(text)
        if m := _ISO.match(text):
            year, month, day = (int(g) if g else None for g in m.groups())
            return cls(None, year, month, day)
        if m := _JAPANESE.match(text):
            era = Era.from_name(m.group(1))
            if m.group(2) is None:
                return cls.unknown(era)
            era_year = 1 if m.group(2) == "元" else int(m.group(2))
            if era_year < 1:
                raise DateError(f"{text!r}: era years start at 1")
            year = era.first_day.year + era_year - 1
            month = int(m.group(3)) if m.group(3) else None
            day = int(m.group(4)) if m.group(4) else None
            return cls(era, year, month, day)
        raise DateError(f"cannot read {text!r} as a date")

    # -- views --------------------------------------------------------------------------------

    @property
    def code(self) -> str:
        """The ``EYYYYMMDD`` form."""
        return (
            f"{self.era.digit if self.era else 0}{self.year or 0:04d}"
            f"{self.month or 0:02d}{self.day or 0:02d}"
        )

    @property
    def is_complete(self) -> bool:
        return self.day is not None

    def as_date(self) -> date:
        """The Gregorian date; only for complete dates."""
        if self.year is None or self.month is None or self.day is None:
            raise DateError(f"{self.japanese()} is not a complete date")
        return date(self.year, self.month, self.day)

    def earliest(self) -> date | None:
        """The first day the date may stand for (None when the year is unknown)."""
        return None if self.year is None else max(self._bounds()[0], Era.MEIJI.first_day)

    def latest(self) -> date | None:
        """The last day the date may stand for (None when the year is unknown)."""
        return None if self.year is None else self._bounds()[1]

    def japanese(self) -> str:
        """The era form used on screens and copies, e.g. ``昭和25年3月15日`` or ``昭和 年不詳``."""
        if self.era is None and self.year is None:
            return "不詳"
        if self.year is None:
            assert self.era is not None
            return f"{self.era.kanji} 年不詳"
        if self.era is None:
            head = f"{self.year}年"
        else:
            era_year = self.era.year_of(self.year)
            head = f"{self.era.kanji}{'元' if era_year == 1 else era_year}年"
        if self.month is None:
            return f"{head} 月日不詳"
        if self.day is None:
            return f"{head}{self.month}月 日不詳"
        return f"{head}{self.month}月{self.day}日"

    def iso(self) -> str:
        """ISO-like form with only the known parts (``1950-03``), or the era letter alone."""
        if self.year is None:
            return self.era.letter if self.era else "不詳"
        parts = [f"{self.year:04d}"]
        if self.month is not None:
            parts.append(f"{self.month:02d}")
        if self.day is not None:
            parts.append(f"{self.day:02d}")
        return "-".join(parts)

    def __str__(self) -> str:
        return self.japanese()
