"""``jpki bench``: measured figures for BENCHMARKS.md."""

from __future__ import annotations

import functools

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn
from rich.table import Table

from web.bench import bench_population
from web.bench_crl import CrlBench, bench_crl
from web.bench_issuance import bench_issuance
from web.bench_ocsp import BenchFailed, OcspBench, bench_ocsp
from web.bench_revocation import bench_revocation
from web.bench_tiers import bench_tiers
from web.cli import JpkiGroup, console


@click.group(cls=JpkiGroup)
def bench() -> None:
    """Benchmarks (results go to BENCHMARKS.md with the command that produced them)."""


@bench.command("population")
@click.option("--size", type=click.IntRange(1, 5_000_000), default=100_000, show_default=True)
@click.option("--lookups", type=click.IntRange(100, 1_000_000), default=2000, show_default=True)
@click.option("--pg-url", default=None, envvar="JPKI_BENCH_PG_URL",
              help="Also run on PostgreSQL (a scratch database is created on this server).")
def bench_population_cmd(size: int, lookups: int, pg_url: str | None) -> None:
    """Generate and load SIZE residents; time lookups by resident code (SQLite, PostgreSQL)."""
    results = []
    for url in [None] + ([pg_url] if pg_url else []):
        with Progress("[progress.description]{task.description}", BarColumn(),
                      MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                      transient=True) as progress:
            task = progress.add_task("postgresql" if url else "sqlite", total=size)
            results.append(bench_population(
                size, pg_url=url, lookups=lookups,
                progress=functools.partial(_advance, progress, task)))
    table = Table(title=f"jpki bench population --size {size}")
    for column in ("backend", "load s", "residents/s", "lookup p50 ms", "lookup p99 ms",
                   "raw SELECT p50 ms", "raw SELECT p99 ms", "p99 ratio"):
        table.add_column(column)
    for r in results:
        table.add_row(r.backend, f"{r.load_seconds:.1f}", f"{r.residents_per_second:,.0f}",
                      f"{r.lookup_p50_ms:.3f}", f"{r.lookup_p99_ms:.3f}", f"{r.raw_p50_ms:.3f}",
                      f"{r.raw_p99_ms:.3f}", f"{r.lookup_p99_ms / r.raw_p99_ms:.1f}×")
    console.print(table)


@bench.command("tiers")
@click.option("--backlog", type=click.IntRange(10, 1_000_000), default=3000, show_default=True,
              help="Relocations committed before the workers start.")
@click.option("--paced", type=click.IntRange(10, 100_000), default=500, show_default=True,
              help="Relocations committed while the workers run (for the latency).")
@click.option("--rate", type=click.FloatRange(1, 10_000), default=50, show_default=True,
              help="Counter commits per second while measuring the latency.")
@click.option("--pg-url", default=None, envvar="JPKI_BENCH_PG_URL",
              help="Also run on PostgreSQL (a scratch database is created on this server).")
def bench_tiers_cmd(backlog: int, paced: int, rate: float, pg_url: str | None) -> None:
    """Changes per second through every tier to the feed, and commit-to-notice latency."""
    results = [bench_tiers(backlog=backlog, paced=paced, rate=rate, pg_url=url)
               for url in [None] + ([pg_url] if pg_url else [])]
    table = Table(title=f"jpki bench tiers --backlog {backlog} --paced {paced} --rate {rate:g}")
    for column in ("backend", "backlog changes/s", "latency p50 ms", "latency p99 ms",
                   "counter changes/s"):
        table.add_column(column)
    for r in results:
        table.add_row(r.backend, f"{r.changes_per_second:,.0f}", f"{r.latency_p50_ms:.1f}",
                      f"{r.latency_p99_ms:.1f}", f"{r.counter_per_second:,.0f}")
    console.print(table)


@bench.command("issuance")
@click.option("--certificates", type=click.IntRange(10, 100_000), default=400,
              show_default=True, help="Certificates a round (signing path and issuance).")
@click.option("--enrolments", type=click.IntRange(1, 1000), default=10, show_default=True)
@click.option("--rounds", type=click.IntRange(1, 100), default=5, show_default=True)
def bench_issuance_cmd(certificates: int, enrolments: int, rounds: int) -> None:
    """Certificates issued per second (lint and store included) against raw RSA signing."""
    r = bench_issuance(certificates=certificates, enrolments=enrolments, rounds=rounds)
    table = Table(title=f"jpki bench issuance --certificates {certificates} "
                        f"--enrolments {enrolments} --rounds {rounds} (medians)")
    for column in ("raw RSA-2048 signatures/s", "signing path certs/s", "signing path / raw",
                   "issued certs/s (lint + store)", "issued / raw", "issued, each round",
                   "enrolments/min"):
        table.add_column(column)
    table.add_row(f"{r.raw_per_second:,.0f}", f"{r.signing_path_per_second:,.0f}",
                  f"{r.signing_ratio:.2f}", f"{r.issued_per_second:,.0f}",
                  f"{r.issued_ratio:.3f}", " ".join(f"{x:.0f}" for x in r.issued_per_round),
                  f"{r.enrolments_per_minute:,.0f}")
    console.print(table)


@bench.command("revocation")
@click.option("--latency", "parts", flag_value="latency", multiple=True,
              help="Commit at the counter → OCSP revoked (all three parts when none is chosen).")
@click.option("--ocsp", "parts", flag_value="ocsp", multiple=True,
              help="OCSP answers/s and latency at --connections, against openssl ocsp.")
@click.option("--crl", "parts", flag_value="crl", multiple=True,
              help="A CRL of --crl-entries entries, against openssl ca -gencrl.")
@click.option("--holders", type=click.IntRange(5, 10_000), default=50, show_default=True,
              help="Latency: holders who relocate one after the other.")
@click.option("--ocsp-holders", type=click.IntRange(5, 100_000), default=300,
              show_default=True, help="OCSP: certificates issued through the CA.")
@click.option("--requests", type=click.IntRange(100, 10_000_000), default=20_000,
              show_default=True, help="OCSP: requests per run (a random sample of them).")
@click.option("--connections", type=click.IntRange(1, 1000), default=16, show_default=True)
@click.option("--rounds", type=click.IntRange(1, 50), default=3, show_default=True,
              help="OCSP: runs of each server, alternately; the median one is kept.")
@click.option("--nonce", is_flag=True,
              help="OCSP: also measure requests that each carry a nonce (signed per request).")
@click.option("--crl-entries", type=click.IntRange(1, 5_000_000), default=1_000_000,
              show_default=True)
@click.option("--openssl", default=None, help="The openssl to compare with (default: PATH).")
@click.option("--pg-url", default=None, envvar="JPKI_BENCH_PG_URL",
              help="Also run on PostgreSQL (a scratch database is created on this server).")
def bench_revocation_cmd(parts: tuple[str, ...], holders: int, ocsp_holders: int,
                         requests: int, connections: int, rounds: int, nonce: bool,
                         crl_entries: int, openssl: str | None, pg_url: str | None) -> None:
    """Revocation against the reference tools: commit → OCSP revoked, OCSP throughput (vs
    openssl ocsp), CRL generation (vs openssl ca -gencrl)."""
    chosen = set(parts) or {"latency", "ocsp", "crl"}
    urls = [None] + ([pg_url] if pg_url else [])
    try:
        if "latency" in chosen:
            _latency_table(holders, urls)
        if "ocsp" in chosen:
            with console.status("OCSP") as status:
                results = [r for url in urls for r in bench_ocsp(
                    holders=ocsp_holders, requests=requests, connections=connections,
                    rounds=rounds, nonce=(False, True) if nonce else (False,), pg_url=url,
                    openssl=openssl, progress=status.update)]
            console.print(_ocsp_table(results, requests))
        if "crl" in chosen:
            with console.status("CRL") as status:
                crls = [bench_crl(entries=crl_entries, pg_url=url, openssl=openssl,
                                  progress=status.update) for url in urls]
            console.print(_crl_table(crls))
    except BenchFailed as exc:
        raise click.ClickException(str(exc)) from None


def _latency_table(holders: int, urls: list[str | None]) -> None:
    results = [bench_revocation(holders=holders, pg_url=url) for url in urls]
    table = Table(title=f"jpki bench revocation --latency --holders {holders}")
    for column in ("backend", "commit → OCSP revoked p50 ms", "p99 ms", "max ms",
                   "first answer p50 ms", "cached answer p50 ms"):
        table.add_column(column)
    for r in results:
        table.add_row(r.backend, f"{r.p50_ms:.0f}", f"{r.p99_ms:.0f}", f"{r.max_ms:.0f}",
                      f"{r.first_p50_ms:.2f}", f"{r.ask_p50_ms:.3f}")
    console.print(table)


def _ocsp_table(results: list[OcspBench], requests: int) -> Table:
    first = results[0]
    table = Table(title=f"jpki bench revocation --ocsp: {first.certificates} certificates "
                        f"({first.revoked} revoked), {requests:,} requests, "
                        f"{first.connections} connections, median of {first.rounds} rounds")
    for column in ("backend", "nonce", "server", "answers/s", "× openssl", "p50 ms", "p99 ms",
                   "max ms", "server CPU µs/answer", "client CPU µs/answer", "connections",
                   "errors"):
        table.add_column(column)
    for r in results:
        for figures in (r.ours, r.reference, r.waitress):
            table.add_row(r.backend, "yes" if r.nonce else "no", figures.server,
                          f"{figures.per_second:,.0f}",
                          f"{figures.per_second / r.reference.per_second:.2f}",
                          f"{figures.p50_ms:.2f}", f"{figures.p99_ms:.2f}",
                          f"{figures.max_ms:.1f}", f"{figures.server_cpu_us:.0f}",
                          f"{figures.client_cpu_us:.0f}", f"{figures.connections:,}",
                          str(figures.errors))
    return table


def _crl_table(results: list[CrlBench]) -> Table:
    table = Table(title=f"jpki bench revocation --crl: {results[0].entries:,} revoked entries")
    for column in ("backend", "tool", "CRL generation s", "process s",
                   "openssl / ours (generation)", "openssl / ours (process)", "peak RSS MiB",
                   "CRL MiB", "same entries"):
        table.add_column(column)
    for r in results:
        table.add_row(r.backend, r.ours.tool, f"{r.issue_seconds:.2f}", f"{r.ours.seconds:.2f}",
                      f"{r.ratio:.2f}", f"{r.process_ratio:.2f}",
                      f"{r.ours.peak_rss_mib:,.0f}", f"{r.ours.crl_bytes / 2**20:.1f}",
                      "yes" if r.same_entries else "NO")
        table.add_row(r.backend, r.reference.tool, f"{r.reference.seconds:.2f}",
                      f"{r.reference.seconds:.2f}", "1.00", "1.00",
                      f"{r.reference.peak_rss_mib:,.0f}",
                      f"{r.reference.crl_bytes / 2**20:.1f}", "")
    return table


def _advance(progress: Progress, task: TaskID, done: int) -> None:
    progress.update(task, completed=done)


def attach(main: click.Group) -> None:
    main.add_command(bench)


@bench.command("verify")
@click.option("--size", type=click.IntRange(1024, 10 * 1024 * 1024), default=100 * 1024,
              show_default=True, help="Bytes of the signed submission (about).")
@click.option("--rounds", type=click.IntRange(1, 1000), default=5, show_default=True,
              help="Alternating rounds of each measured operation.")
@click.option("--seconds", type=click.FloatRange(0.1, 60), default=2.0, show_default=True,
              help="Length of each operation's turn in a round.")
@click.option("--http/--no-http", "over_http", default=True, show_default=True,
              help="Also over a loopback HTTP connection to the server `jpki serve` runs.")
def bench_verify_cmd(size: int, rounds: int, seconds: float, over_http: bool) -> None:
    """Verifications per second of a signed submission: the endpoint against signxml alone."""
    from web.bench_verify import BenchFailed, bench_verify  # heavy: the whole web application

    with console.status("enrolling a card, signing, verifying …"):
        try:
            r = bench_verify(size=size, rounds=rounds, seconds=seconds, over_http=over_http)
        except BenchFailed as exc:
            raise click.ClickException(str(exc)) from None
    table = Table(title=f"jpki bench verify --size {size} --rounds {rounds} "
                        f"--seconds {seconds:g}  ({r.document_bytes / 1024:.1f} KB signed)")
    for column in ("verification", "per second", "× bare", "per CPU second", "× bare (CPU)"):
        table.add_column(column)
    rows = [("signxml bare check", r.bare), ("endpoint (Flask test client)", r.endpoint)]
    if r.http is not None:
        rows.append(("endpoint over HTTP (loopback)", r.http))
    for name, rate in rows:
        table.add_row(name, f"{rate.per_second:,.1f}", f"{r.ratio(rate):.2f}",
                      f"{rate.per_cpu_second:,.1f}", f"{r.cpu_ratio(rate):.2f}")
    console.print(table)
