"""``jpki verifier``: the registry of verifiers (署名検証者) and their log.

Registering and suspending a verifier are supervisor acts (a verifier's key can open the basic
four of signers): the operator logs in as for any other command, and is named in the verifier
log. The API key is printed once, at registration; only its hash is kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import click
from rich.markup import escape
from rich.table import Table

from jukibridge.records import Role
from jukibridge.tables import Operator
from revocation import verifiers
from revocation.verifiers import LogOutcome, VerifierKind, VerifierState
from web.cli import JpkiGroup, console, operator_login, operator_option, with_services
from web.services import Services

JST = timezone(timedelta(hours=9))
KIND_LABELS = {
    VerifierKind.NATIONAL: "国の機関",
    VerifierKind.LOCAL: "地方公共団体",
    VerifierKind.CERTIFIED: "総務大臣認定事業者",
    VerifierKind.PRIVATE: "民間事業者（認定なし）",
}
STATE_LABELS = {VerifierState.ACTIVE: "有効", VerifierState.SUSPENDED: "停止中"}
OUTCOME_LABELS = {
    LogOutcome.DONE: "完了", LogOutcome.PROVIDED: "提供", LogOutcome.WITHHELD: "提供せず",
    LogOutcome.REFUSED: "拒否", LogOutcome.NOT_FOUND: "該当なし",
}


def _supervisor(services: Services, operator: str | None) -> str:
    """The logged-in operator, who must be a supervisor."""
    login = operator_login(services, operator)
    with services.sessions() as session:
        row = session.get(Operator, login)
        if row is None or row.role != Role.SUPERVISOR.value:
            raise click.ClickException("only a supervisor registers, suspends, reinstates or "
                                       "re-keys verifiers")
    return login


def _jst(at: datetime | None) -> str:
    return at.astimezone(JST).strftime("%Y-%m-%d %H:%M") if at is not None else ""


@click.group("verifier", cls=JpkiGroup)
def verifier_group() -> None:
    """Registered verifiers (署名検証者): API keys, suspension, their log."""


@verifier_group.command("register")
@click.argument("name")
@click.option("--kind", type=click.Choice([k.value for k in VerifierKind]), required=True,
              help="national / local government, certified (by the minister) or private "
                   "(not entitled to basic four).")
@operator_option
@with_services
def register(services: Services, name: str, kind: str, operator: str | None) -> None:
    """Register verifier NAME; its API key is printed once (store it safely)."""
    login = _supervisor(services, operator)
    made = verifiers.register(services.sessions, services.clock, name=name,
                              kind=VerifierKind(kind), operator=login)
    found = made.verifier
    console.print(f"verifier {found.verifier_id} registered: {escape(found.name)} "
                  f"({KIND_LABELS[found.kind]})", highlight=False)
    console.print("API key (shown only this once; it cannot be recovered):", highlight=False)
    click.echo(made.api_key)


@verifier_group.command("list")
@with_services
def list_verifiers(services: Services) -> None:
    """Every registered verifier (never its key)."""
    table = Table(title="署名検証者")
    for column in ("ID", "名称", "区分", "状態", "登録（JST）", "登録者", "停止（JST）", "停止者"):
        table.add_column(column, overflow="fold")
    for v in verifiers.verifiers(services.sessions):
        table.add_row(str(v.verifier_id), escape(v.name), KIND_LABELS[v.kind],
                      STATE_LABELS[v.state], _jst(v.registered_at), escape(v.registered_by),
                      _jst(v.suspended_at), escape(v.suspended_by or ""))
    console.print(table)


@verifier_group.command("suspend")
@click.argument("verifier_id", type=int)
@operator_option
@with_services
def suspend(services: Services, verifier_id: int, operator: str | None) -> None:
    """Suspend verifier VERIFIER_ID: its key no longer grants anything."""
    login = _supervisor(services, operator)
    _say(verifiers.suspend(services.sessions, services.clock, verifier_id, operator=login),
         "suspended", "was suspended already")


@verifier_group.command("reinstate")
@click.argument("verifier_id", type=int)
@operator_option
@with_services
def reinstate(services: Services, verifier_id: int, operator: str | None) -> None:
    """Lift the suspension of VERIFIER_ID (for a leaked key, use rotate-key instead)."""
    login = _supervisor(services, operator)
    _say(verifiers.reinstate(services.sessions, services.clock, verifier_id, operator=login),
         "reinstated", "was active already")


def _say(done: verifiers.Suspension, changed: str, unchanged: str) -> None:
    named = f"verifier {done.verifier.verifier_id} ({escape(done.verifier.name)})"
    console.print(f"{named} {changed}" if done.changed
                  else f"{named} {unchanged}; nothing changed")


@verifier_group.command("rotate-key")
@click.argument("verifier_id", type=int)
@operator_option
@with_services
def rotate_key(services: Services, verifier_id: int, operator: str | None) -> None:
    """Give VERIFIER_ID a new API key (printed once); the old key grants nothing from now on."""
    login = _supervisor(services, operator)
    made = verifiers.rotate_key(services.sessions, services.clock, verifier_id, operator=login)
    console.print(f"verifier {verifier_id} ({escape(made.verifier.name)}): new API key (shown "
                  "only this once; the old key no longer works):", highlight=False)
    click.echo(made.api_key)


@verifier_group.command("log")
@click.argument("verifier_id", type=int, required=False)
@click.option("--limit", type=click.IntRange(1, 100_000), default=200, show_default=True)
@with_services
def show_log(services: Services, verifier_id: int | None, limit: int) -> None:
    """The verifier log (of VERIFIER_ID): registrations, suspensions, refused keys, uses."""
    table = Table(title="署名検証者の利用記録")
    for column in ("日時（JST）", "ID", "事象", "結果", "操作者", "証明書", "詳細"):
        table.add_column(column, overflow="fold")
    for r in verifiers.log_entries(services.sessions, verifier_id, limit):
        certificate = f"{r.issuer_key_id[:16]}…:{r.serial}" if r.issuer_key_id else ""
        table.add_row(_jst(r.at), str(r.verifier_id or ""), r.event.value,
                      OUTCOME_LABELS[r.outcome], escape(r.operator or ""), certificate,
                      escape(r.detail or ""))
    console.print(table)


def attach(main: click.Group) -> None:
    main.add_command(verifier_group)
