"""Fixtures shared by the signing and verification tests: a scratch JPKI authority and a card
holder, one of each per test module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.test_verify import Authority, Holder, make_authority, make_holder


@pytest.fixture(scope="module")
def authority() -> Authority:
    return make_authority()


@pytest.fixture(scope="module")
def holder(authority: Authority, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Holder]:
    opened = make_holder(authority, tmp_path_factory.mktemp("card"))
    yield opened
    opened.card.close()
