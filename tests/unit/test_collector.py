"""jpki processes collect the first generation less often (web.collector)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from web import collector
from web.cli import main


@pytest.fixture
def thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield gc.get_threshold()
    gc.set_threshold(*before)


def test_tune_raises_only_the_first_generations_threshold(
        thresholds: tuple[int, int, int]) -> None:
    collector.tune()
    collector.tune()
    assert gc.get_threshold() == (collector.YOUNG_THRESHOLD, thresholds[1], thresholds[2])
    assert gc.isenabled()


def test_every_jpki_command_runs_with_it(thresholds: tuple[int, int, int]) -> None:
    result = CliRunner().invoke(main, ["bench", "--help"])
    assert result.exit_code == 0, result.output
    assert gc.get_threshold()[0] == collector.YOUNG_THRESHOLD
