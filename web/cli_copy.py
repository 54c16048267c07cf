"""``jpki copy``: wide-area copies (住民票の写しの広域交付) printed as PDF."""

from __future__ import annotations

from pathlib import Path

import click

from jukibridge.copies import issue_copy
from jukibridge.copy_pdf import render_pdf
from web.cli import JpkiGroup, console, operator_login, operator_option, with_services
from web.services import Services


@click.group("copy", cls=JpkiGroup)
def copy_group() -> None:
    """Copies of resident records (住民票の写し), issued at any municipality."""


@copy_group.command("issue")
@click.argument("resident_code")
@click.option("--at", "at", default=None,
              help="Issuing municipality code (default: the configured one).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the PDF.")
@operator_option
@with_services
def copy_issue(services: Services, resident_code: str, at: str | None, output: Path,
               operator: str | None) -> None:
    """Issue a copy of the record of RESIDENT_CODE, wherever the resident lives, as a PDF."""
    login = operator_login(services, operator)
    copy = issue_copy(services.sessions, services.clock,
                      at=at or services.settings.municipality_code,
                      resident_code=resident_code, operator=login)
    output.write_bytes(render_pdf(copy))
    where = f"from {copy.home_name} " if copy.wide_area else ""
    console.print(f"copy {copy.copy_id} issued at {copy.issuing_name} {where}→ {output}")


def attach(main: click.Group) -> None:
    main.add_command(copy_group)
