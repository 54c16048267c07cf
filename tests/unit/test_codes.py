"""Check digits of resident codes, individual numbers and municipality codes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jukibridge.codes import (
    is_valid_individual_number,
    is_valid_resident_code,
    mask_individual_number,
    mod11_check_digit,
    municipality_check_digit,
    random_individual_number,
    random_resident_code,
    validate_individual_number,
    validate_municipality_code,
    validate_resident_code,
)
from jukibridge.errors import InvalidInput

digits = st.text(alphabet="0123456789", min_size=1, max_size=1)


@pytest.mark.parametrize("number", ["123456789018", "621498320257"])
def test_known_individual_numbers_are_valid(number: str) -> None:
    assert validate_individual_number(number) == number


def test_known_bad_individual_number_is_refused() -> None:
    with pytest.raises(InvalidInput, match="check digit"):
        validate_individual_number("123456789019")


@pytest.mark.parametrize("code", ["24727059608", "24846016224"])
def test_known_resident_codes_are_valid(code: str) -> None:
    assert validate_resident_code(code) == code


@pytest.mark.parametrize(
    "code", ["131016", "011002", "271004", "112089", "142034", "412040", "412091"])
def test_known_municipality_codes_are_valid(code: str) -> None:
    assert validate_municipality_code(code) == code


@pytest.mark.parametrize(
    "value", ["", "1234", "2472705960X", "２４７２７０５９６０８", " 24727059608x"]
)
def test_malformed_resident_codes_are_refused(value: str) -> None:
    with pytest.raises(InvalidInput, match="11 digits"):
        validate_resident_code(value)


def reference_mod11(body: str) -> int:
    """The statute's formula written the other way round: weights listed from the left."""
    weights = [6, 5, 4, 3, 2, 7, 6, 5, 4, 3, 2][-len(body):]
    r = sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11
    return 0 if r <= 1 else 11 - r


@given(st.text(alphabet="0123456789", min_size=11, max_size=11))
def test_individual_number_check_digit_matches_the_statute(body: str) -> None:
    assert mod11_check_digit(body) == reference_mod11(body)
    assert is_valid_individual_number(body + str(mod11_check_digit(body)))


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_resident_code_check_digit_uses_weights_two_to_seven(body: str) -> None:
    weights = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]
    r = sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11
    assert mod11_check_digit(body) == (0 if r <= 1 else 11 - r)


@given(st.text(alphabet="0123456789", min_size=11, max_size=11), st.integers(0, 10),
       st.integers(1, 9))
def test_any_single_digit_error_is_detected(body: str, position: int, delta: int) -> None:
    valid = body + str(mod11_check_digit(body))
    wrong = valid[:position] + str((int(valid[position]) + delta) % 10) + valid[position + 1:]
    # mod 11 with distinct non-zero weights catches every single substitution except where
    # the check digit would be 10 or 11 (folded to 0): confirm with the reference formula.
    if is_valid_individual_number(wrong):
        assert reference_mod11(wrong[:-1]) == int(wrong[-1])
    else:
        assert reference_mod11(wrong[:-1]) != int(wrong[-1])


@given(st.text(alphabet="0123456789", min_size=5, max_size=5))
def test_municipality_check_digit_round_trip(body: str) -> None:
    code = body + str(municipality_check_digit(body))
    assert validate_municipality_code(code) == code
    bad = body + str((municipality_check_digit(body) + 1) % 10)
    with pytest.raises(InvalidInput):
        validate_municipality_code(bad)


def test_random_codes_are_valid_and_differ() -> None:
    codes = {random_resident_code() for _ in range(200)}
    numbers = {random_individual_number() for _ in range(200)}
    assert len(codes) == 200 and all(is_valid_resident_code(c) for c in codes)
    assert len(numbers) == 200 and all(is_valid_individual_number(n) for n in numbers)


def test_masked_number_keeps_only_the_last_four_digits() -> None:
    assert mask_individual_number("123456789018") == "********9018"
