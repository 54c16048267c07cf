"""The ``jpki`` command line (also reachable as ``flask --app web``).

Every command takes ``--home``; errors are one clear line and a non-zero exit.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from ca.errors import CaError
from jukibridge import audit, municipalities, operators, provision
from jukibridge.errors import RegisterError
from jukibridge.records import Role
from jukibridge.tables import RegisterSettings
from pki.card import CardError
from revocation.errors import RevocationError
from web import collector, secrets
from web.config import ConfigError, load_settings
from web.database import migrate
from web.services import Services

F = TypeVar("F", bound=Callable[..., Any])
PIPE_WIDTH = 160  # tables written to a pipe or file are not cut at 80 columns


def _width() -> int | None:
    """Let rich size a terminal; give pipes and files a wide, fixed width."""
    if sys.stdout.isatty():
        return None
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() else PIPE_WIDTH


console = Console(highlight=False, width=_width())


class JpkiGroup(click.Group):
    """A group whose commands turn domain and configuration errors into one line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (RegisterError, CaError, RevocationError, ConfigError, FileExistsError) as exc:
            raise click.ClickException(str(exc)) from None
        except CardError as exc:
            raise click.ClickException(str(exc) or type(exc).__name__) from None
        except (OperationalError, ProgrammingError) as exc:
            raise click.ClickException(
                f"the database is not ready ({type(exc.orig).__name__}); run `jpki init` first"
            ) from None


def read_secret(label: str, pin_file: Path | None, *, confirm: bool = False) -> str:
    """A PIN or password from ``pin_file``, else a hidden prompt; never from the command line."""
    if pin_file is not None:
        return pin_file.read_text("utf-8").strip()
    value: str = click.prompt(label, hide_input=True, confirmation_prompt=confirm, err=True)
    return value


def with_services(fn: F) -> F:
    """Add ``--home`` and hand the command a ``Services`` built from the instance's settings."""

    @click.option("--home", type=click.Path(file_okay=False), envvar="JPKI_HOME",
                  help="Instance folder (default ./instance).")
    @functools.wraps(fn)
    def wrapper(*args: Any, home: str | None, **kwargs: Any) -> Any:
        # Tests and embedders pass a clock as the root context's obj: {"clock": Clock}.
        root = click.get_current_context().find_root().obj
        clock = root.get("clock") if isinstance(root, dict) else None
        services = Services.build(load_settings(home), clock=clock)
        try:
            return fn(services, *args, **kwargs)
        finally:
            services.close()

    return wrapper  # type: ignore[return-value]


def operator_login(services: Services, login: str | None) -> str:
    """Authenticate the operator running a command (password from the environment or a prompt)."""
    login = login or os.environ.get("JPKI_OPERATOR") or click.prompt("Operator")
    password = os.environ.get("JPKI_OPERATOR_PASSWORD") or click.prompt(
        "Password", hide_input=True)
    failure: RegisterError | None = None
    with services.sessions() as session, session.begin():
        try:
            operators.authenticate(session, services.clock, login, password)
        except RegisterError as exc:
            failure = exc  # committed anyway: the failure count and its audit entry persist
    if failure is not None:
        raise failure
    return login


operator_option = click.option("--operator", "operator", envvar="JPKI_OPERATOR",
                               help="Operator login (password from JPKI_OPERATOR_PASSWORD or "
                                    "a prompt).")


@click.group(cls=JpkiGroup)
def main() -> None:
    """JPKI on a resident register: register, tiers, CA, card, revocation and verification."""
    collector.tune()


@main.command()
@click.option("--municipality", "municipality_code", default=None,
              help="Open the register of this municipality (default: the configured one).")
@with_services
def init(services: Services, municipality_code: str | None) -> None:
    """Create the instance folder and database, load the municipality table, open a register."""
    services.settings.home.mkdir(parents=True, exist_ok=True)
    migrate(services.engine)
    code = municipality_code or services.settings.municipality_code
    with services.sessions() as session, session.begin():
        added = municipalities.load_table(session)
        purposes = provision.load_purposes(session)
    secrets.card_seal_key(services.settings, create=True)
    with services.sessions() as session, session.begin():
        opened = session.get(RegisterSettings, code) is None
        if opened:
            municipalities.open_register(session, services.clock, code)
    console.print(f"instance: {services.settings.home}")
    console.print(f"database: {services.engine.url.render_as_string(hide_password=True)}")
    console.print(f"municipality table: {added} rows added")
    console.print(f"statutory provision purposes: {purposes} rows added")
    console.print(f"register {code}: {'opened' if opened else 'already open'}")


# -- operators -----------------------------------------------------------------------------------


@main.group(cls=JpkiGroup)
def operator() -> None:
    """Operators (操作者) of the register."""


@operator.command("add")
@click.argument("login")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", "display_name", default="")
@click.option("--municipality", "municipality_code", default=None)
@with_services
def operator_add(services: Services, login: str, role: str, display_name: str,
                 municipality_code: str | None) -> None:
    """Add an operator; the password comes from JPKI_NEW_PASSWORD or a prompt."""
    password = os.environ.get("JPKI_NEW_PASSWORD") or click.prompt(
        "New password", hide_input=True, confirmation_prompt=True)
    with services.sessions() as session, session.begin():
        operators.add_operator(session, services.clock, login=login, password=password,
                               role=Role(role), display_name=display_name,
                               municipality_code=municipality_code
                               or services.settings.municipality_code)
    console.print(f"operator {login} ({role}) added")


@operator.command("unlock")
@click.argument("login")
@operator_option
@with_services
def operator_unlock(services: Services, login: str, operator: str | None) -> None:
    """Lift a lockout (supervisors only)."""
    actor = operator_login(services, operator)
    with services.sessions() as session, session.begin():
        from jukibridge.tables import Operator

        row = session.get(Operator, actor)
        if row is None or row.role != Role.SUPERVISOR.value:
            raise click.ClickException("only a supervisor unlocks operators")
        operators.unlock(session, services.clock, login, actor)
    console.print(f"operator {login} unlocked")


# -- audit ---------------------------------------------------------------------------------------


@main.group("audit", cls=JpkiGroup)
def audit_group() -> None:
    """The hash-chained audit log."""


WITNESS_FILE = "audit-witness.json"


def _read_witness(path: Path) -> audit.ChainReport | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
        return audit.ChainReport(entries=int(data["entries"]), head_hash=str(data["head_hash"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(f"the audit witness {path} is unreadable: {exc}") from exc


@audit_group.command("verify")
@click.option("--witness", "witness_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help=f"Head of the last verification (default: HOME/{WITNESS_FILE}); "
              "keep a copy off the database host to detect entries removed from the end.")
@with_services
def audit_verify(services: Services, witness_path: Path | None) -> None:
    """Walk the audit chain; exit non-zero at the first edited, removed or inserted entry.

    The chain must also still contain the head recorded by the previous verification; the new
    head is then recorded in the witness file.
    """
    path = witness_path or services.settings.home / WITNESS_FILE
    witness = _read_witness(path)
    with services.sessions() as session:
        report = audit.verify(session, witness=witness)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"entries": report.entries, "head_hash": report.head_hash}) + "\n",
                    "utf-8")
    console.print(f"audit chain intact: {report.entries} entries, head {report.head_hash[:16]}…")


def registered(services: Services) -> list[str]:
    with services.sessions() as session:
        return list(session.scalars(select(RegisterSettings.municipality_code)))


def register_commands() -> None:
    """Attach the command groups defined in their own modules."""
    from web import (
        cli_bench,
        cli_ca,
        cli_card,
        cli_copy,
        cli_demo,
        cli_login,
        cli_population,
        cli_provision,
        cli_register,
        cli_revocation,
        cli_serve,
        cli_sign,
        cli_tiers,
        cli_verifiers,
    )

    for module in (cli_register, cli_population, cli_tiers, cli_copy, cli_provision, cli_ca,
                   cli_card, cli_revocation, cli_sign, cli_demo, cli_bench, cli_serve,
                   cli_login, cli_verifiers):
        module.attach(main)


register_commands()
