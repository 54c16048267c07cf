"""``jpki ca ...``: the key ceremony, rollover and the CA certificates."""

from __future__ import annotations

from pathlib import Path

import click
from cryptography.hazmat.primitives.serialization import Encoding
from rich.table import Table

from pki.profile import CertKind
from web import secrets
from web.cli import JpkiGroup, console, with_services
from web.services import Services

KIND = click.Choice([k.value for k in CertKind])


@click.group(cls=JpkiGroup)
def ca() -> None:
    """The signing and user-authentication CAs."""


@ca.command("init")
@click.option("--demo", is_flag=True,
              help="Generate and keep a passphrase in the instance folder (demonstrations "
                   "only; production uses JPKI_CA_PASSPHRASE or the prompt).")
@with_services
def ca_init(services: Services, demo: bool) -> None:
    """The key ceremony: the first generation of each CA (does nothing if they exist)."""
    if demo:
        secrets.create_demo_passphrase(services.settings)
        console.print(f"demo passphrase kept in {secrets.DEMO_PASSPHRASE_FILE} (demo only)")
    created = services.ca.init()
    for generation in created:
        console.print(f"created {generation.name}: key {generation.key_label}, "
                      f"SKI {generation.key_id}")
    if not created:
        console.print("both CAs already have their keys")


@ca.command("rollover")
@click.argument("kind", type=KIND)
@with_services
def ca_rollover(services: Services, kind: str) -> None:
    """A new generation of KIND (sign or auth) and its two link certificates."""
    new, links = services.ca.rollover(CertKind(kind))
    console.print(f"created {new.name} (SKI {new.key_id}) and {len(links)} link certificates")


@ca.command("list")
@with_services
def ca_list(services: Services) -> None:
    """Every generation of both CAs."""
    table = Table(title="CA generations")
    for column in ("name", "key label", "SKI", "not before", "not after"):
        table.add_column(column)
    for kind in CertKind:
        for g in services.ca.generations(kind):
            table.add_row(g.name, g.key_label, g.key_id,
                          g.certificate.not_valid_before_utc.isoformat(),
                          g.certificate.not_valid_after_utc.isoformat())
    console.print(table)


@ca.command("export")
@click.option("--out", "folder", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="Folder for the CA and link certificates (PEM).")
@with_services
def ca_export(services: Services, folder: Path) -> None:
    """Write every root and link certificate as PEM, for relying parties."""
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for kind in CertKind:
        for g in services.ca.generations(kind):
            (folder / f"{g.name}.pem").write_bytes(g.certificate.public_bytes(Encoding.PEM))
            count += 1
        for index, link in enumerate(services.ca.links(kind), start=1):
            (folder / f"{kind.value}-link-{index}.pem").write_bytes(
                link.public_bytes(Encoding.PEM))
            count += 1
    console.print(f"{count} certificates written to {folder}")


def attach(main: click.Group) -> None:
    main.add_command(ca)
