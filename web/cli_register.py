"""``jpki resident`` and ``jpki change``: read the register and enter changes from the shell."""

from __future__ import annotations

from datetime import date
from typing import Any, get_origin

import click
from rich.table import Table

from jukibridge.change_requests import REQUEST_TYPES, build_request, request_fields
from jukibridge.codes import mask_individual_number
from jukibridge.errors import InvalidInput
from jukibridge.records import ChangeKind, ResidentRecord
from web.cli import JpkiGroup, console, operator_login, operator_option, with_services
from web.services import Services

municipality_option = click.option("--municipality", "municipality_code", default=None,
                                   help="Municipality code (default: the configured one).")


def record_table(record: ResidentRecord, *, reveal_number: bool = False) -> Table:
    """A resident record as a two-column table with the register's Japanese labels."""
    table = Table(show_header=False, title=f"住民票 {record.resident_code}"
                  f"{'（除票）' if record.state.value == 'removed' else ''}")
    number = record.individual_number or ""
    rows: list[tuple[str, str]] = [
        ("氏名", record.name),
        ("フリガナ", record.name_kana),
        ("旧氏", record.former_surname or ""),
        ("通称", f"{record.alias or ''} {record.alias_kana or ''}".strip()),
        ("生年月日", record.birth_date.japanese()),
        ("性別", record.sex.label),
        ("住所", record.address),
        ("世帯", f"{record.household_id}　続柄 {record.relationship}"),
        ("本籍", f"{record.domicile or ''}　筆頭者 {record.domicile_head or ''}"
         if not record.foreign_resident else ""),
        ("国籍・在留資格", f"{record.nationality} {record.residence_status}"
         if record.foreign_resident else ""),
        ("住民となった日", record.became_resident_on.japanese()),
        ("住所を定めた日", record.address_fixed_on.japanese()),
        ("前住所", record.previous_address or ""),
        ("住民票コード", record.resident_code),
        ("個人番号", number if reveal_number else mask_individual_number(number)),
        ("資格", " ".join(label for label, on in (
            ("選挙人名簿", record.electoral_roll),
            ("国民健康保険", record.national_health_insurance),
            ("介護保険", record.long_term_care), ("国民年金", record.national_pension),
            ("児童手当", record.child_allowance)) if on)),
        ("異動", f"{record.kind.label} {record.effective_on.isoformat()}（履歴 {record.seq}）"),
    ]
    if record.removal_reason:
        rows.append(("消除", f"{record.removal_reason.label} {record.removed_on}"
                     f" → {record.destination or ''}"))
    for label, value in rows:
        if value:
            table.add_row(label, value)
    return table


@click.group(cls=JpkiGroup)
def resident() -> None:
    """Read resident records (住民票)."""


@resident.command("show")
@click.argument("resident_code")
@click.option("--reveal-number", is_flag=True, help="Show the full individual number.")
@municipality_option
@operator_option
@with_services
def resident_show(services: Services, resident_code: str, reveal_number: bool,
                  municipality_code: str | None, operator: str | None) -> None:
    """Show the current record of RESIDENT_CODE (or its removed record)."""
    login = operator_login(services, operator)
    record = services.register(municipality_code).record(resident_code, operator=login)
    console.print(record_table(record, reveal_number=reveal_number))


@resident.command("history")
@click.argument("resident_code")
@municipality_option
@operator_option
@with_services
def resident_history(services: Services, resident_code: str, municipality_code: str | None,
                     operator: str | None) -> None:
    """Every snapshot of RESIDENT_CODE, oldest first."""
    login = operator_login(services, operator)
    records = services.register(municipality_code).history(resident_code, operator=login)
    table = Table(title=f"履歴 {resident_code}")
    for column in ("履歴", "異動", "異動日", "届出日", "氏名", "住所", "状態", "訂正", "操作者"):
        table.add_column(column)
    for r in records:
        table.add_row(str(r.seq), r.kind.label, r.effective_on.isoformat(),
                      r.notified_on.isoformat() if r.notified_on else "", r.name, r.address,
                      "除票" if r.state.value == "removed" else "",
                      str(r.corrects_seq or ""), r.operator)
    console.print(table)


@resident.command("find")
@click.option("--kana", default=None, help="Start of the kana name.")
@click.option("--birth-date", default=None, help="Birth date (1950-03-15, 昭和25年3月15日, …).")
@click.option("--removed", is_flag=True, help="Include removed records.")
@municipality_option
@operator_option
@with_services
def resident_find(services: Services, kana: str | None, birth_date: str | None, removed: bool,
                  municipality_code: str | None, operator: str | None) -> None:
    """Find residents by kana name and/or birth date."""
    login = operator_login(services, operator)
    records = services.register(municipality_code).search(
        operator=login, name_kana=kana, birth_date=birth_date, include_removed=removed)
    table = Table()
    for column in ("住民票コード", "氏名", "フリガナ", "生年月日", "住所"):
        table.add_column(column)
    for r in records:
        table.add_row(r.resident_code, r.name, r.name_kana, r.birth_date.japanese(), r.address)
    console.print(table)


@click.group(cls=JpkiGroup)
def change() -> None:
    """Enter, commit and reject changes (異動). One subcommand per change kind."""


def _kind_command(kind: ChangeKind) -> click.Command:
    request_type = REQUEST_TYPES[kind]
    params: list[click.Parameter] = []
    for f, hint in request_fields(request_type):
        flag = "--" + f.name.replace("_", "-")
        origin = get_origin(hint)
        if origin is list:
            params.append(click.Option([flag, f.name], multiple=True,
                                       help="Repeat or separate with commas."))
        elif origin is dict:
            params.append(click.Option([flag, f.name], multiple=True, metavar="KEY=VALUE",
                                       help="Repeat for each item."))
        elif hint is bool:
            params.append(click.Option([f"{flag}/--no-{flag[2:]}", f.name], default=None))
        else:
            params.append(click.Option([flag, f.name], default=None))
    params += [
        click.Option(["--effective-on"], type=click.DateTime(["%Y-%m-%d"]), default=None),
        click.Option(["--notified-on"], type=click.DateTime(["%Y-%m-%d"]), default=None),
        click.Option(["--remarks"], default=""),
        click.Option(["--draft"], is_flag=True, help="Only enter the draft (仮登録)."),
    ]

    @operator_option
    @municipality_option
    @with_services
    def run(services: Services, operator: str | None, municipality_code: str | None,
            effective_on: Any, notified_on: Any, remarks: str, draft: bool,
            **values: Any) -> None:
        login = operator_login(services, operator)
        plain: dict[str, Any] = {}
        for f, hint in request_fields(request_type):
            value = values.get(f.name)
            if get_origin(hint) is list:
                value = [v for item in value for v in item.split(",")] if value else None
            elif get_origin(hint) is dict:
                value = _pairs(f.name, value) if value else None
            if value is not None:
                plain[f.name] = value
        request = build_request(kind, plain)
        register = services.register(municipality_code)
        kwargs = {"effective_on": _day(effective_on), "notified_on": _day(notified_on),
                  "remarks": remarks}
        if draft or register.needs_supervisor(kind):
            change_id = register.enter(login, request, **kwargs)  # type: ignore[arg-type]
            console.print(f"draft {change_id} entered ({kind.label}); "
                          f"commit with `jpki change commit {change_id}`"
                          + (" by a supervisor" if register.needs_supervisor(kind) else ""))
            return
        outcome = register.perform(login, request, **kwargs)  # type: ignore[arg-type]
        _print_outcome(kind, outcome)

    command = click.Command(kind.name.lower().replace("_", "-"), callback=run, params=params,
                            help=f"{kind.label}: {(request_type.__doc__ or '').strip()}")
    command.params = params + [p for p in getattr(run, "__click_params__", [])]
    return command


def _day(value: Any) -> date | None:
    return value.date() if value is not None else None


def _pairs(name: str, items: tuple[str, ...]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput(f"{name}: {item!r} is not KEY=VALUE", field=name)
        pairs[key.strip()] = value.strip()
    return pairs


def _print_outcome(kind: ChangeKind, outcome: Any) -> None:
    console.print(f"change {outcome.change_id} committed ({kind.label}): "
                  f"resident codes {', '.join(outcome.resident_codes) or '-'}")
    for cert in outcome.certificate_ids:
        console.print(f"move-out certificate {cert}")


@change.command("commit")
@click.argument("change_id", type=int)
@municipality_option
@operator_option
@with_services
def change_commit(services: Services, change_id: int, municipality_code: str | None,
                  operator: str | None) -> None:
    """Commit a draft (本登録)."""
    login = operator_login(services, operator)
    register = services.register(municipality_code)
    kind = register.change(change_id).kind
    _print_outcome(kind, register.commit(login, change_id))


@change.command("reject")
@click.argument("change_id", type=int)
@click.option("--reason", default="")
@municipality_option
@operator_option
@with_services
def change_reject(services: Services, change_id: int, reason: str,
                  municipality_code: str | None, operator: str | None) -> None:
    """Reject a draft: it leaves no trace but its audit entry."""
    login = operator_login(services, operator)
    services.register(municipality_code).reject(login, change_id, reason)
    console.print(f"draft {change_id} rejected")


@change.command("drafts")
@municipality_option
@with_services
def change_drafts(services: Services, municipality_code: str | None) -> None:
    """List drafts waiting for commit."""
    table = Table()
    for column in ("id", "異動", "異動日", "入力者", "要監督者"):
        table.add_column(column)
    register = services.register(municipality_code)
    for d in register.drafts():
        table.add_row(str(d.change_id), d.kind.label, d.effective_on.isoformat(), d.entered_by,
                      "○" if register.needs_supervisor(d.kind) else "")
    console.print(table)


for _kind in REQUEST_TYPES:
    change.add_command(_kind_command(_kind))


def attach(main: click.Group) -> None:
    main.add_command(resident)
    main.add_command(change)

