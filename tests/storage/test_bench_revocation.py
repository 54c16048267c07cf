"""Smoke tests of ``jpki bench revocation`` at tiny sizes: each part runs against its reference
and checks its answers (the figures themselves go to BENCHMARKS.md, never into assertions).

The OCSP part runs ``openssl ocsp`` in a private network namespace (``unshare -n``, root only);
the CRL part needs ``openssl`` and GNU ``time``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console

from web.bench_crl import GNU_TIME, bench_crl
from web.bench_ocsp import OURS, REFERENCE, WAITRESS, bench_ocsp
from web.bench_revocation import bench_revocation
from web.cli import main
from web.cli_bench import _crl_table, _ocsp_table

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl")


def _render(table: object) -> str:
    console = Console(width=300, record=True)
    console.print(table)
    return console.export_text()


def test_the_latency_bench_sees_every_relocation_revoked() -> None:
    result = bench_revocation(holders=5)
    assert result.holders == 5 and 0 < result.p50_ms <= result.max_ms
    assert result.ask_p50_ms < result.first_p50_ms  # a cached answer is cheaper than signing


@needs_openssl
@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="unshare -n needs root")
def test_the_ocsp_bench_checks_both_responders_and_measures_three_servers() -> None:
    results = bench_ocsp(holders=5, requests=200, connections=4, rounds=1, revoked_share=0.4,
                         nonce=(False, True))
    assert [r.nonce for r in results] == [False, True]
    for result in results:
        assert result.certificates == 5 and result.revoked == 2
        for figures, name in ((result.ours, OURS), (result.reference, REFERENCE),
                              (result.waitress, WAITRESS)):
            assert figures.server == name and figures.requests == 200 and figures.errors == 0
            assert figures.per_second > 0 and figures.p50_ms <= figures.p99_ms
        assert result.ours.connections == result.waitress.connections == 4  # kept alive
        assert result.reference.connections == 200  # openssl closes after each answer
    text = _render(_ocsp_table(results, 200))
    assert "openssl ocsp" in text and OURS in text and WAITRESS in text


@needs_openssl
@pytest.mark.skipif(not Path(GNU_TIME).is_file(), reason="no GNU time")
def test_the_crl_bench_makes_the_same_entries_as_openssl() -> None:
    result = bench_crl(entries=300)
    assert result.same_entries and result.entries == 300
    assert result.ours.crl_bytes == result.reference.crl_bytes
    assert result.ours.peak_rss_mib > 0 and result.reference.peak_rss_mib > 0
    assert "yes" in _render(_crl_table([result]))


@pytest.mark.skipif(not Path(GNU_TIME).is_file(), reason="no GNU time")
def test_a_failing_reference_tool_is_one_clear_line_and_a_failed_exit(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-openssl")
    result = CliRunner().invoke(main, ["bench", "revocation", "--crl", "--crl-entries", "10",
                                       "--openssl", missing])
    assert result.exit_code == 1
    assert "openssl ca -gencrl failed" in result.output and "Traceback" not in result.output
