"""The certificate character set (JIS X 0208 + JIS X 0212) and conversion into it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pki.charset import (
    COMMON_FORMS,
    FOLDS,
    PLACEHOLDER,
    CharsetError,
    in_certificate_set,
    is_certificate_text,
    to_certificate_text,
)

IN_SET = [chr(cp) for cp in range(0x10000) if in_certificate_set(chr(cp))]


def test_the_set_is_exactly_jis_x_0208_and_jis_x_0212() -> None:
    counts = {"0208": 0, "0212": 0}
    for ch in IN_SET:
        encoded = ch.encode("euc_jp")
        counts["0212" if encoded[0] == 0x8F else "0208"] += 1
        assert len(encoded) == (3 if encoded[0] == 0x8F else 2)
    # JIS X 0208: 6,879 characters; JIS X 0212: 6,067 less the tilde the codec maps to ASCII
    assert counts == {"0208": 6879, "0212": 6066}


@pytest.mark.parametrize("ch", ["A", "1", " ", "-", "ｱ", "ﾞ", "¥", "‾"])
def test_ascii_and_half_width_forms_are_outside_the_set(ch: str) -> None:
    assert ch.encode("euc_jp")  # the codec knows them, the set does not
    assert not in_certificate_set(ch)


@pytest.mark.parametrize("ch", ["Ａ", "１", "\u3000", "−", "ア", "高", "濵", "〓"])
def test_full_width_kanji_and_jis_x_0212_are_inside(ch: str) -> None:
    assert in_certificate_set(ch)


@pytest.mark.parametrize(("variant", "common"), sorted(COMMON_FORMS.items()))
def test_every_common_form_entry_maps_from_outside_to_inside(variant: str, common: str) -> None:
    assert not in_certificate_set(variant)
    assert is_certificate_text(common)


@pytest.mark.parametrize(("source", "target"), sorted(FOLDS.items()))
def test_every_fold_maps_from_outside_to_inside(source: str, target: str) -> None:
    assert not in_certificate_set(source)
    assert is_certificate_text(target)


def test_placeholder_is_in_the_set() -> None:
    assert in_certificate_set(PLACEHOLDER)


@pytest.mark.parametrize(
    ("text", "converted", "flags"),
    [
        ("山田", "山田", "00"),
        ("髙橋", "高橋", "10"),
        ("山﨑", "山崎", "01"),
        ("𠮷田", "吉田", "10"),
        ("德川", "徳川", "10"),
        ("濵田", "濵田", "00"),  # 濵 is in JIS X 0212: kept
        ("神\ufa19社", "神神社", "010"),  # CJK compatibility ideograph → its unified form
        ("葛\U000e0100飾", "葛飾", "10"),  # IVS dropped, base flagged
        ("㈱", "（株）", "111"),
        ("①", "１", "1"),
        ("並木1-2-3", "並木１−２−３", "0000000"),
        ("SMITH JOHN", "ＳＭＩＴＨ\u3000ＪＯＨＮ", "0" * 10),
        ("ｶﾞｸ", "ガク", "00"),
        ("\U00029e3d", PLACEHOLDER, "1"),  # 𩸽: no common form, no reading
        ("", "", ""),
    ],
)
def test_conversion_and_flags(text: str, converted: str, flags: str) -> None:
    assert to_certificate_text(text) == (converted, flags)


def test_a_reading_replaces_the_character_and_flags_each_kana() -> None:
    readings = {"\U00029e3d": "ホッケ"}
    assert to_certificate_text("\U00029e3d漁", readings) == ("ホッケ漁", "1110")


def test_a_common_form_wins_over_a_reading() -> None:
    assert to_certificate_text("髙", {"髙": "タカ"}) == ("高", "1")


@pytest.mark.parametrize("reading", ["", "hokke", "ﾎｯｹ"])
def test_a_reading_outside_the_set_is_refused(reading: str) -> None:
    with pytest.raises(CharsetError):
        to_certificate_text("\U00029e3d", {"\U00029e3d": reading})


@pytest.mark.parametrize("text", ["山田\n太郎", "a\tb", "\x00"])
def test_control_characters_are_refused(text: str) -> None:
    with pytest.raises(CharsetError):
        to_certificate_text(text)


@given(st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs"))))
def test_any_text_converts_into_the_set_with_one_flag_per_character(text: str) -> None:
    converted, flags = to_certificate_text(text)
    assert is_certificate_text(converted)
    assert len(flags) == len(converted)
    assert set(flags) <= {"0", "1"}


@given(st.text(alphabet=st.sampled_from(IN_SET)))
def test_text_already_in_the_set_is_unchanged_and_unflagged(text: str) -> None:
    assert to_certificate_text(text) == (text, "0" * len(text))
