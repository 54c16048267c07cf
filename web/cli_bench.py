"""``jpki bench``: measured figures for BENCHMARKS.md."""

from __future__ import annotations

import functools

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TimeElapsedColumn
from rich.table import Table

from web.bench import bench_population
from web.bench_issuance import bench_issuance
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
              show_default=True)
@click.option("--enrolments", type=click.IntRange(1, 1000), default=10, show_default=True)
def bench_issuance_cmd(certificates: int, enrolments: int) -> None:
    """Certificates issued per second (lint and store included) against raw RSA signing."""
    r = bench_issuance(certificates=certificates, enrolments=enrolments)
    table = Table(title=f"jpki bench issuance --certificates {certificates} "
                        f"--enrolments {enrolments}")
    for column in ("raw RSA-2048 signatures/s", "signing path certs/s", "signing path / raw",
                   "issued certs/s (lint + store)", "issued / raw", "enrolments/min"):
        table.add_column(column)
    table.add_row(f"{r.raw_per_second:,.0f}", f"{r.signing_path_per_second:,.0f}",
                  f"{r.signing_ratio:.2f}", f"{r.issued_per_second:,.0f}",
                  f"{r.issued_per_second / r.raw_per_second:.2f}",
                  f"{r.enrolments_per_minute:,.0f}")
    console.print(table)


@bench.command("revocation")
@click.option("--holders", type=click.IntRange(5, 10_000), default=50, show_default=True)
@click.option("--pg-url", default=None, envvar="JPKI_BENCH_PG_URL",
              help="Also run on PostgreSQL (a scratch database is created on this server).")
def bench_revocation_cmd(holders: int, pg_url: str | None) -> None:
    """Time from a relocation committed at the counter to OCSP answering revoked."""
    results = [bench_revocation(holders=holders, pg_url=url)
               for url in [None] + ([pg_url] if pg_url else [])]
    table = Table(title=f"jpki bench revocation --holders {holders}")
    for column in ("backend", "commit → OCSP revoked p50 ms", "p99 ms", "max ms",
                   "one OCSP answer p50 ms"):
        table.add_column(column)
    for r in results:
        table.add_row(r.backend, f"{r.p50_ms:.0f}", f"{r.p99_ms:.0f}", f"{r.max_ms:.0f}",
                      f"{r.ask_p50_ms:.2f}")
    console.print(table)


def _advance(progress: Progress, task: TaskID, done: int) -> None:
    progress.update(task, completed=done)


def attach(main: click.Group) -> None:
    main.add_command(bench)
