"""The instance's secrets: the CA passphrase, the HSM PIN and the card seal key.

None of them is ever in the configuration file, on a command line or in a log:

- CA passphrase: ``JPKI_CA_PASSPHRASE``, else a prompt. ``jpki ca init --demo`` may generate one
  and keep it in the instance folder as ``ca-passphrase.DEMO`` (mode 0600) so that the demo
  runs unattended; that file is for demonstrations only and says so.
- HSM PIN: ``JPKI_PKCS11_PIN``.
- Card seal key (seals the virtual card images): ``JPKI_CARD_SEAL_KEY`` (64 hex digits), else
  ``card-seal.key`` in the instance folder, created at ``jpki init`` (mode 0600).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import click

from ca.keystore import FileKeyStore, KeyStore
from web.config import ConfigError, Settings

DEMO_PASSPHRASE_FILE = "ca-passphrase.DEMO"
SEAL_KEY_FILE = "card-seal.key"
CA_KEYS_FOLDER = "ca-keys"


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def ca_passphrase(settings: Settings, *, prompt: bool = True) -> bytes:
    value = os.environ.get("JPKI_CA_PASSPHRASE")
    if value:
        return value.encode()
    demo = settings.home / DEMO_PASSPHRASE_FILE
    if demo.is_file():
        return demo.read_bytes().strip()
    if prompt:
        entered: str = click.prompt("CA passphrase", hide_input=True, err=True)
        return entered.encode()
    raise ConfigError("no CA passphrase: set JPKI_CA_PASSPHRASE")


def create_demo_passphrase(settings: Settings) -> bytes:
    """Generate the demo instance's passphrase (once), clearly marked as a demo."""
    path = settings.home / DEMO_PASSPHRASE_FILE
    if not path.exists():
        _write_private(path, secrets.token_urlsafe(24).encode() + b"\n")
    return path.read_bytes().strip()


def key_store(settings: Settings) -> KeyStore:
    if settings.key_store == "pkcs11":
        from ca.pkcs11_keystore import Pkcs11KeyStore

        pin = os.environ.get("JPKI_PKCS11_PIN")
        if not pin:
            raise ConfigError("key_store = pkcs11: set JPKI_PKCS11_PIN")
        return Pkcs11KeyStore(settings.pkcs11_module, settings.pkcs11_token, pin)
    return FileKeyStore(settings.home / CA_KEYS_FOLDER, ca_passphrase(settings))


def card_seal_key(settings: Settings, *, create: bool = False) -> bytes:
    value = os.environ.get("JPKI_CARD_SEAL_KEY")
    if value:
        try:
            key = bytes.fromhex(value)
        except ValueError:
            raise ConfigError("JPKI_CARD_SEAL_KEY must be hexadecimal") from None
        if len(key) != 32:
            raise ConfigError("JPKI_CARD_SEAL_KEY must be 32 bytes (64 hex digits)")
        return key
    path = settings.home / SEAL_KEY_FILE
    if not path.exists():
        if not create:
            raise ConfigError("no card seal key: run `jpki init` or set JPKI_CARD_SEAL_KEY")
        _write_private(path, secrets.token_bytes(32))
    key = path.read_bytes()
    if len(key) != 32:
        raise ConfigError(f"{path} is not a 32-byte key")
    return key
