"""Kana readings are normalised to full-width katakana; names keep their characters."""

from __future__ import annotations

import pytest

from jukibridge.errors import InvalidInput
from jukibridge.kana import normalise_kana, normalise_name


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("やまだ たろう", "ヤマダ\u3000タロウ"),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ\u3000タロウ"),
        ("  ヤマダ　　タロウ ", "ヤマダ\u3000タロウ"),
        ("スミス・ジョン", "スミス・ジョン"),
    ],
)
def test_kana_is_normalised_to_full_width_katakana(given: str, stored: str) -> None:
    assert normalise_kana(given) == stored


@pytest.mark.parametrize("given", ["山田", "Yamada", "ヤマダ1", ""])
def test_anything_but_kana_is_refused(given: str) -> None:
    with pytest.raises(InvalidInput):
        normalise_kana(given)


def test_names_keep_non_standard_characters() -> None:
    assert normalise_name(" 髙橋  一郎 ") == "髙橋\u3000一郎"
    assert normalise_name("辻\U000e0100 太郎") == "辻\U000e0100\u3000太郎"  # with an IVS


def test_control_characters_are_refused_in_names() -> None:
    with pytest.raises(InvalidInput):
        normalise_name("山田\x00太郎")
