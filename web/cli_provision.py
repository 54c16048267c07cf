"""``jpki provision``: the table of statutory purposes, agency requests and the disclosure."""

from __future__ import annotations

import click
from rich.table import Table

from jukibridge import provision
from jukibridge.codes import mask_individual_number
from jukibridge.records import ChangeKind, Sex
from jukibridge.register import JST
from pki.eras import PartialDate
from web.cli import JpkiGroup, console, with_services
from web.services import Services

KIND_LABELS = {provision.AgencyKind.NATIONAL: "国の機関等",
               provision.AgencyKind.LOCAL: "地方公共団体",
               provision.AgencyKind.PRIVATE: "民間"}
OUTCOME_LABELS = {provision.Outcome.PROVIDED: "提供", provision.Outcome.REFUSED: "拒否",
                  provision.Outcome.NOT_FOUND: "該当なし", provision.Outcome.AMBIGUOUS: "複数該当"}


@click.group(cls=JpkiGroup)
def provision_group() -> None:
    """Provision of identity info to agencies (本人確認情報の提供) and its disclosure."""


@provision_group.command("purposes")
@with_services
def purposes(services: Services) -> None:
    """List the statutory purposes (別表) agencies may ask for."""
    table = Table(title="本人確認情報の提供先と事務")
    table.add_column("purpose", overflow="fold")
    for column in ("agency", "提供先", "区分", "事務", "根拠", "個人番号"):
        table.add_column(column, overflow="fold")
    for p in provision.purposes(services.sessions):
        table.add_row(p.purpose_id, p.agency, p.agency_name, KIND_LABELS[p.agency_kind], p.task,
                      p.legal_basis, "可" if p.individual_number else "")
    console.print(table)


@provision_group.command("request")
@click.option("--agency", required=True, help="The requesting agency's id.")
@click.option("--purpose", "purpose_id", required=True, help="The declared purpose's id.")
@click.option("--resident-code", default=None, help="Look the resident up by resident code.")
@click.option("--name", default=None, help="Basic-four search: full name.")
@click.option("--birth-date", default=None, help="Basic-four search: birth date.")
@click.option("--sex", type=click.IntRange(1, 3), default=None,
              help="Basic-four search: 1 male, 2 female, 3 unknown.")
@click.option("--address", default=None, help="Basic-four search: address.")
@click.option("--reveal-number", is_flag=True, help="Show the full individual number.")
@with_services
def request(services: Services, agency: str, purpose_id: str, resident_code: str | None,
            name: str | None, birth_date: str | None, sex: int | None, address: str | None,
            reveal_number: bool) -> None:
    """Answer one agency request (logged whatever its outcome)."""
    query = None
    if name is not None or birth_date is not None or sex is not None or address is not None:
        if name is None or birth_date is None:
            raise click.UsageError("a basic-four search needs --name and --birth-date")
        query = provision.BasicFourQuery(name=name, birth_date=birth_date, sex=sex,
                                         address=address)
    given = provision.request(services.sessions, services.clock, agency=agency,
                              purpose_id=purpose_id, resident_code=resident_code, query=query)
    identity = given.identity
    number = identity.individual_number
    rows = [
        ("住民票コード", identity.resident_code),
        ("個人番号", number if reveal_number or number is None else mask_individual_number(number)),
        ("氏名", identity.name),
        ("旧氏", identity.former_surname),
        ("通称", identity.alias),
        ("生年月日", PartialDate.from_code(identity.birth_date).japanese()),
        ("性別", Sex(identity.sex).label),
        ("住所", identity.address),
        ("状態", "除票" if identity.removed else "現存"),
        ("異動", f"{_change_label(identity.change_reason)} {identity.changed_on.isoformat()}"),
    ]
    table = Table(show_header=False, title=f"本人確認情報（提供 {given.log_id}）")
    for label, value in rows:
        if value:
            table.add_row(label, value)
    console.print(table)
    console.print(f"{given.purpose.agency_name}: {given.purpose.task} "
                  f"（{given.purpose.legal_basis}）")


@provision_group.command("history")
@click.argument("resident_code")
@with_services
def history(services: Services, resident_code: str) -> None:
    """Disclose every provision about RESIDENT_CODE (提供状況の開示), former codes included."""
    table = Table(title=f"提供状況 {resident_code}")
    for column in ("日時（JST）", "agency", "purpose", "根拠", "住民票コード", "提供項目", "結果"):
        table.add_column(column, overflow="fold")
    for r in provision.history(services.sessions, resident_code):
        table.add_row(r.at.astimezone(JST).strftime("%Y-%m-%d %H:%M:%S"), r.agency, r.purpose_id,
                      r.legal_basis or "", r.subject_resident_code or "", " ".join(r.fields),
                      OUTCOME_LABELS[r.outcome])
    console.print(table)


def _change_label(reason: str) -> str:
    return ChangeKind[reason].label if reason in ChangeKind.__members__ else reason


def attach(main: click.Group) -> None:
    main.add_command(provision_group, "provision")
