"""``jpki population generate``: a synthetic population with a progress bar."""

from __future__ import annotations

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from jukibridge import population
from web.cli import JpkiGroup, console, with_services
from web.services import Services


@click.group(cls=JpkiGroup)
def population_group() -> None:
    """Synthetic populations for demos, tests and benchmarks."""


@population_group.command("generate")
@click.option("--municipality", "municipality_code", default=None,
              help="Municipality code (default: the configured one).")
@click.option("--size", type=click.IntRange(1, 5_000_000), required=True)
@click.option("--seed", type=int, default=None, help="Seed for a reproducible population.")
@with_services
def generate(services: Services, municipality_code: str | None, size: int,
             seed: int | None) -> None:
    """Generate SIZE residents in realistic households."""
    code = municipality_code or services.settings.municipality_code
    with Progress("[progress.description]{task.description}", BarColumn(),
                  MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                  transient=True) as progress:
        task = progress.add_task("residents", total=size)
        report = population.generate(services.sessions, services.clock, code, size, seed=seed,
                                     progress=lambda done: progress.update(task, completed=done))
    console.print(f"{report.residents} residents in {report.households} households added to "
                  f"{report.municipality_code} (change {report.change_id})")


def attach(main: click.Group) -> None:
    main.add_command(population_group, "population")
