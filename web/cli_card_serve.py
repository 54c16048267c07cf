"""``jpki card serve CARD``: put a virtual card into the vsmartcard reader (``vpcd``) of pcscd.

The lead's ``card`` group adds :data:`serve` with ``card.add_command(serve)``. The command needs
no database: only the card image and its seal key (``--seal-key-file``, else
``JPKI_CARD_SEAL_KEY`` or ``card-seal.key`` in the instance folder, see :mod:`web.secrets`).

vpcd listens on every interface, so run ``pcscd`` and this command in a private network
namespace (and, to keep clear of a system pcscd, a private ``/run/pcscd``); PC/SC clients outside
reach pcscd through its Unix socket::

    RUN=$(mktemp -d); mkdir -p /run/pcscd
    unshare --net --mount sh -c 'ip link set lo up && mount --bind "$0" /run/pcscd &&
        { pcscd --foreground & exec jpki card serve card.jpkicard; }' "$RUN" &
    PCSCLITE_CSOCK_NAME="$RUN/pcscd.comm" pkcs11-tool --module opensc-pkcs11.so --list-slots
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from types import FrameType

import click

from pki.card import CardError, VirtualCard
from pki.card.vpcd import DEFAULT_HOST, DEFAULT_PORT
from pki.card.vpcd import serve as serve_card
from web import secrets
from web.config import ConfigError, load_settings


def parse_endpoint(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) to a host and a port."""
    host, sep, port_text = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint="--vpcd")
    return host, int(port_text)


def _seal_key(seal_key_file: Path | None, home: str | None) -> bytes:
    if seal_key_file is None:
        return secrets.card_seal_key(load_settings(home))
    key = seal_key_file.read_bytes()
    if len(key) != 32:
        raise click.ClickException(f"{seal_key_file} is not a 32-byte key")
    return key


@click.command("serve")
@click.argument("card", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--vpcd", "endpoint", default=f"{DEFAULT_HOST}:{DEFAULT_PORT}", show_default=True,
              metavar="HOST:PORT", help="Where vpcd listens.")
@click.option("--seal-key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="The 32-byte seal key (default: JPKI_CARD_SEAL_KEY or the instance's key).")
@click.option("--home", type=click.Path(file_okay=False), envvar="JPKI_HOME",
              help="Instance folder (default ./instance).")
def serve(card: Path, endpoint: str, seal_key_file: Path | None, home: str | None) -> None:
    """Insert the virtual CARD into vpcd's slot and answer the reader until stopped."""
    host, port = parse_endpoint(endpoint)
    try:
        virtual = VirtualCard.open(card, _seal_key(seal_key_file, home))
    except (CardError, ConfigError) as exc:
        raise click.ClickException(str(exc)) from None
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    click.echo(f"card {virtual.card_id} → vpcd {host}:{port} (Ctrl-C stops)", err=True)
    with virtual:
        serve_card(virtual, host, port, stop)
