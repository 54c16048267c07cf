"""The shipped table of local governments."""

from __future__ import annotations

from collections import Counter

from jukibridge.codes import is_valid_municipality_code
from jukibridge.municipalities import shipped_table


def test_every_code_in_the_table_has_a_valid_check_digit() -> None:
    table = shipped_table()
    assert all(is_valid_municipality_code(row.code) for row in table)
    assert len({row.code for row in table}) == len(table)


def test_the_whole_of_saga_and_the_cities_of_the_source_documents() -> None:
    by_code = {row.code: row for row in shipped_table()}
    saga = [row for row in by_code.values() if row.prefecture_code == "41"]
    kinds = Counter(row.name[-1] for row in saga if not row.is_prefecture)
    assert kinds == {"市": 10, "町": 10}  # 佐賀県: 10 cities and 10 towns
    assert by_code["412040"].full_name == "佐賀県多久市"
    assert by_code["112089"].full_name == "埼玉県所沢市"
    assert by_code["142034"].full_name == "神奈川県平塚市"
    assert by_code["410004"].is_prefecture


def test_every_municipality_has_its_prefecture_row() -> None:
    table = shipped_table()
    prefectures = {row.prefecture_code: row.name for row in table if row.is_prefecture}
    for row in table:
        assert prefectures[row.prefecture_code] == row.prefecture
        assert row.code.startswith(row.prefecture_code)
