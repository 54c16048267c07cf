"""Smoke tests of ``jpki bench issuance`` at tiny sizes: the workload it issues and the table it
prints (the figures themselves go to BENCHMARKS.md, never into assertions)."""

from __future__ import annotations

from click.testing import CliRunner

from ca.enrolment import basic_four_of
from jukibridge.codes import mod11_check_digit
from web.bench_issuance import bench_issuance, card_key, holder
from web.cli import main


def test_every_resident_of_the_bench_is_another_one() -> None:
    residents = [holder(i) for i in range(500)]
    assert len({r.resident_code for r in residents}) == 500
    assert all(int(r.resident_code[-1]) == mod11_check_digit(r.resident_code[:-1])
               for r in residents)
    assert len({basic_four_of(r) for r in residents}) == 500


def test_every_card_key_is_another_rsa_2048_key() -> None:
    keys = [card_key() for _ in range(50)]
    assert {k.key_size for k in keys} == {2048}
    assert len({k.public_numbers().n for k in keys}) == 50


def test_the_bench_measures_each_round_against_its_own_raw_rate() -> None:
    result = bench_issuance(certificates=10, enrolments=1, rounds=2, raw_seconds=0.02)
    assert len(result.issued_per_round) == 2
    assert result.issued_per_second > 0 and result.enrolments_per_minute > 0
    assert 0 < result.issued_ratio < 1 and result.signing_ratio > 0


def test_the_command_prints_the_rounds() -> None:
    run = CliRunner().invoke(main, ["bench", "issuance", "--certificates", "10",
                                    "--enrolments", "1", "--rounds", "2"])
    assert run.exit_code == 0, run.output
    assert "--rounds 2 (medians)" in run.output and "issued, each round" in run.output
