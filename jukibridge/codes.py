"""Check digits and issuance of the register's numbers (GLOSSARY.md, "Check digits").

- resident code (住民票コード): 10 random digits + a mod-11 check digit;
- individual number (個人番号): 11 digits + a mod-11 check digit;
- municipality code (全国地方公共団体コード): 5 digits + a check digit.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

from jukibridge.errors import InvalidInput


def mod11_check_digit(body: str) -> int:
    """Check digit shared by the resident code and the individual number.

    Body digits are numbered n = 1, 2, … from the right and weighted n+1 for n ≤ 6, n−5 for n ≥ 7
    (that is 2..7 then 2..6 again); remainder 0 or 1 gives 0, else 11 minus the remainder
    (個人番号の検査用数字を算出する省令 §5; the same rule serves the resident code).
    """
    total = 0
    for n, ch in enumerate(reversed(body), start=1):
        total += int(ch) * (n + 1 if n <= 6 else n - 5)
    r = total % 11
    return 0 if r <= 1 else 11 - r


def municipality_check_digit(body: str) -> int:
    """Check digit of a local-government code: weights 6,5,4,3,2 from the left, (11 − r) mod 10."""
    r = sum(int(ch) * w for ch, w in zip(body, (6, 5, 4, 3, 2), strict=True)) % 11
    return (11 - r) % 10


def _validate(value: str, length: int, what: str, check: Callable[[str], int]) -> str:
    value = value.strip()
    if not _digits(value, length):
        raise InvalidInput(f"{what} must be {length} digits", field=what)
    if int(value[-1]) != check(value[:-1]):
        raise InvalidInput(f"{what} has a wrong check digit", field=what)
    return value


def _digits(value: str, length: int) -> bool:
    return len(value) == length and value.isascii() and value.isdigit()


def validate_resident_code(value: str) -> str:
    """Return ``value`` if it is a well-formed resident code, else raise ``InvalidInput``."""
    return _validate(value, 11, "resident_code", mod11_check_digit)


def validate_individual_number(value: str) -> str:
    """Return ``value`` if it is a well-formed individual number, else raise ``InvalidInput``."""
    return _validate(value, 12, "individual_number", mod11_check_digit)


def validate_municipality_code(value: str) -> str:
    """Return ``value`` if it is a well-formed municipality code, else raise ``InvalidInput``."""
    return _validate(value, 6, "municipality_code", municipality_check_digit)


def is_valid_resident_code(value: str) -> bool:
    return _digits(value, 11) and int(value[-1]) == mod11_check_digit(value[:-1])


def is_valid_individual_number(value: str) -> bool:
    return _digits(value, 12) and int(value[-1]) == mod11_check_digit(value[:-1])


def is_valid_municipality_code(value: str) -> bool:
    return _digits(value, 6) and int(value[-1]) == municipality_check_digit(value[:-1])


def random_resident_code() -> str:
    """A fresh resident code: 10 digits from the CSPRNG and the check digit (never chosen)."""
    body = f"{secrets.randbelow(10**10):010d}"
    return body + str(mod11_check_digit(body))


def random_individual_number() -> str:
    """A fresh individual number: 11 random digits and the check digit."""
    body = f"{secrets.randbelow(10**11):011d}"
    return body + str(mod11_check_digit(body))


def mask_individual_number(value: str) -> str:
    """A form of the individual number safe for logs and screens that need not show it."""
    return "*" * 8 + value[-4:] if len(value) == 12 else "*" * len(value)
