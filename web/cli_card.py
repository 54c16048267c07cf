"""``jpki card ...``: enrolment, renewal and re-issue at the counter, and the holder's own use
of the card.

PINs and passwords are prompted (hidden) or read from a file given with ``--pin-file``; they are
never taken from the command line and never printed or logged.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import click
from cryptography.hazmat.primitives.serialization import Encoding

from jukibridge import cards
from jukibridge.records import Role
from pki.card import Card, Kind
from web import secrets
from web.cli import (
    JpkiGroup,
    console,
    operator_login,
    operator_option,
    read_secret,
    with_services,
)
from web.cli_card_serve import serve
from web.enrolment import Replacement, enrol, reissue, renew, reset_pin
from web.services import Services

KIND = click.Choice(["sign", "auth"])
CARD = click.Path(exists=True, dir_okay=False, path_type=Path)


def _kind(value: str) -> Kind:
    return "sign" if value == "sign" else "auth"


def _label(kind: str) -> str:
    return "signing password" if kind == "sign" else "authentication PIN"


@click.group(cls=JpkiGroup)
def card() -> None:
    """Virtual IC cards: enrolment, renewal, information, PINs, signatures."""


@card.command("enrol")
@click.option("--resident", "resident_code", required=True, help="Resident code.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the new card image.")
@click.option("--identity-document", required=True,
              help="The identity document the operator checked (e.g. 運転免許証).")
@click.option("--auth-pin-file", type=CARD, default=None)
@click.option("--signing-password-file", type=CARD, default=None)
@click.option("--municipality", "municipality_code", default=None)
@operator_option
@with_services
def card_enrol(services: Services, resident_code: str, out: Path, identity_document: str,
               auth_pin_file: Path | None, signing_password_file: Path | None,
               municipality_code: str | None, operator: str | None) -> None:
    """Issue a card with both certificates to a resident found in the register."""
    login = operator_login(services, operator)
    auth_pin = read_secret("Resident's authentication PIN (4 digits)", auth_pin_file, confirm=True)
    password = read_secret("Resident's signing password (6-16 A-Z 0-9)", signing_password_file,
                       confirm=True)
    result = enrol(services, operator=login, resident_code=resident_code,
                   identity_document=identity_document, auth_pin=auth_pin,
                   signing_password=password, out=out, municipality_code=municipality_code)
    signing = result.pair.signing
    console.print(f"card {result.card_id} written to {result.path}")
    console.print(f"signing certificate: {signing.serial if signing else 'none (under 15)'}")
    console.print(f"authentication certificate: {result.pair.authentication.serial}")


def _open(services: Services, path: Path) -> Card:
    return Card.open(path, secrets.card_seal_key(services.settings))


@card.command("info")
@click.argument("path", type=CARD)
@with_services
def card_info(services: Services, path: Path) -> None:
    """Token information, PIN tries left and the authentication certificate (no PIN needed)."""
    with _open(services, path) as holder:
        console.print(f"token: {holder.token_info()}")
        for kind in ("auth", "sign"):
            console.print(f"{_label(kind)}: {holder.tries_left(_kind(kind))} tries left")
        auth = holder.read_certificate("auth")
        console.print(f"authentication certificate: serial {auth.serial_number}, valid until "
                      f"{auth.not_valid_after_utc.isoformat()}")


@card.command("read-cert")
@click.argument("path", type=CARD)
@click.option("--kind", type=KIND, default="auth", show_default=True)
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--pin-file", type=CARD, default=None,
              help="File holding the signing password (the signing certificate needs it).")
@with_services
def card_read_cert(services: Services, path: Path, kind: str, out: Path | None,
                   pin_file: Path | None) -> None:
    """Read a certificate from the card (PEM to stdout or a file)."""
    with _open(services, path) as holder:
        pin = read_secret(_label("sign"), pin_file) if kind == "sign" else None
        pem = holder.read_certificate(_kind(kind), pin).public_bytes(Encoding.PEM)
        if out is None:
            click.echo(pem.decode(), nl=False)
        else:
            out.write_bytes(pem)
            console.print(f"written to {out}")


@card.command("verify-pin")
@click.argument("path", type=CARD)
@click.option("--kind", type=KIND, required=True)
@click.option("--pin-file", type=CARD, default=None)
@with_services
def card_verify_pin(services: Services, path: Path, kind: str, pin_file: Path | None) -> None:
    """Check a PIN (a wrong one uses up a try)."""
    with _open(services, path) as holder:
        holder.verify_pin(_kind(kind), read_secret(_label(kind), pin_file))
        console.print(f"{_label(kind)} accepted")


@card.command("change-pin")
@click.argument("path", type=CARD)
@click.option("--kind", type=KIND, required=True)
@with_services
def card_change_pin(services: Services, path: Path, kind: str) -> None:
    """Change a PIN (the current one is asked first)."""
    with _open(services, path) as holder:
        old = read_secret(f"current {_label(kind)}", None)
        new = read_secret(f"new {_label(kind)}", None, confirm=True)
        holder.change_pin(_kind(kind), old, new)
        console.print(f"{_label(kind)} changed")


@card.command("sign")
@click.argument("path", type=CARD)
@click.argument("file", type=CARD)
@click.option("--kind", type=KIND, default="sign", show_default=True)
@click.option("--pin-file", type=CARD, default=None)
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@with_services
def card_sign(services: Services, path: Path, file: Path, kind: str, pin_file: Path | None,
              out: Path) -> None:
    """Sign the SHA-256 digest of FILE with the card (RSA PKCS#1 v1.5); raw signature to OUT."""
    with _open(services, path) as holder:
        digest = hashlib.sha256(file.read_bytes()).digest()
        signature = holder.sign(_kind(kind), digest, read_secret(_label(kind), pin_file))
        out.write_bytes(signature)
        console.print(f"signature ({len(signature)} bytes) written to {out}")


@card.command("reset-pin")
@click.argument("path", type=CARD)
@click.option("--kind", type=KIND, required=True)
@click.option("--identity-document", required=True,
              help="The identity document the operator checked.")
@click.option("--pin-file", type=CARD, default=None, help="File holding the new PIN.")
@click.option("--municipality", "municipality_code", default=None)
@operator_option
@with_services
def card_reset_pin(services: Services, path: Path, kind: str, identity_document: str,
                   pin_file: Path | None, municipality_code: str | None,
                   operator: str | None) -> None:
    """At the counter: set a new PIN (unlocks it) after checking the holder's identity."""
    login = operator_login(services, operator)
    new_pin = read_secret(f"new {_label(kind)}", pin_file, confirm=True)
    card_id = reset_pin(services, operator=login, card_path=path, kind=kind, new_pin=new_pin,
                        identity_document=identity_document,
                        municipality_code=municipality_code)
    console.print(f"{_label(kind)} of card {card_id} reset")


@card.command("renew")
@click.argument("path", type=CARD)
@click.option("--kind", type=click.Choice(["sign", "auth", "both"]), default="both",
              show_default=True, help="Which certificate (both: every one the card holds).")
@click.option("--identity-document", required=True,
              help="The identity document the operator checked.")
@click.option("--municipality", "municipality_code", default=None)
@operator_option
@with_services
def card_renew(services: Services, path: Path, kind: str, identity_document: str,
               municipality_code: str | None, operator: str | None) -> None:
    """At the counter: new keys and certificates, from three months before the expiry (the
    PINs stay; the old certificates are revoked as superseded)."""
    login = operator_login(services, operator)
    _report(renew(services, operator=login, card_path=path, kind=kind,
                  identity_document=identity_document, municipality_code=municipality_code))


@card.command("reissue")
@click.argument("path", type=CARD)
@click.option("--kind", type=KIND, required=True)
@click.option("--identity-document", required=True,
              help="The identity document the operator checked.")
@click.option("--municipality", "municipality_code", default=None)
@operator_option
@with_services
def card_reissue(services: Services, path: Path, kind: str, identity_document: str,
                 municipality_code: str | None, operator: str | None) -> None:
    """At the counter: a new key and certificate after a revocation (e.g. a relocation) or the
    expiry (the PINs stay)."""
    login = operator_login(services, operator)
    _report(reissue(services, operator=login, card_path=path, kind=kind,
                    identity_document=identity_document, municipality_code=municipality_code))


def _report(done: Replacement) -> None:
    verb = "renewed" if done.action == "card.renew" else "re-issued"
    for kind, new in done.issued.items():
        console.print(f"{_certificate(kind)} {verb} on card {done.card_id}: serial {new.serial}, "
                      f"valid until {new.certificate.not_valid_after_utc.isoformat()}")
    for outcome in done.superseded:
        console.print(outcome.message)


def _certificate(kind: str) -> str:
    return "signing certificate" if kind == "sign" else "authentication certificate"


@card.command("report-lost")
@click.argument("card_id")
@operator_option
@with_services
def card_report_lost(services: Services, card_id: str, operator: str | None) -> None:
    """At the counter or by phone: the card is lost (its certificates go on hold)."""
    _change_state(services, card_id, "lost", operator)


@card.command("return")
@click.argument("card_id")
@operator_option
@with_services
def card_return(services: Services, card_id: str, operator: str | None) -> None:
    """The holder hands the card back (moving abroad, a new card, ...)."""
    _change_state(services, card_id, "returned", operator)


def _change_state(services: Services, card_id: str, state: str, operator: str | None) -> None:
    login = operator_login(services, operator)
    register = services.register()
    register.check_operator(login, Role.CLERK, Role.SUPERVISOR)
    with services.sessions() as session:
        cards.require_active(session, card_id, register.municipality_code)
    if state == "lost":  # hold first: a failure after it leaves the safe side, and a retry
        for outcome in services.revocation.service.card_lost(card_id, operator=login):
            console.print(outcome.message)
    with services.sessions() as session, session.begin():
        record = cards.change_state(session, services.clock, card_id, state, operator=login,
                                    municipality_code=register.municipality_code)
    console.print(f"card {record.card_id} is now {record.state}")


card.add_command(serve)


def attach(main: click.Group) -> None:
    main.add_command(card)
