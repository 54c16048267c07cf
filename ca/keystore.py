"""Where CA private keys live: a ``KeyStore`` generates them and signs with them.

Nothing outside a key store ever holds a CA private key in clear: callers get a *signer*, an
``rsa.RSAPrivateKey`` whose ``sign()`` the ``cryptography`` builders call (for a PKCS#11 store it
forwards to the token). ``FileKeyStore`` keeps each key as PKCS#8 encrypted with a passphrase
(``JPKI_CA_PASSPHRASE`` or a prompt); ``ca.pkcs11_keystore.Pkcs11KeyStore`` keeps them in an
HSM. Loading an encrypted key costs tens of milliseconds, so each is loaded once per process.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from ca.errors import KeyStoreError

KEY_SIZE = 2048
PUBLIC_EXPONENT = 65537
_LABEL = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


class KeyStore(Protocol):
    """Generates CA keys and signs with them; never hands out private key material."""

    def create_key(self, label: str) -> rsa.RSAPublicKey:
        """Generate a new RSA-2048 key under ``label`` (refused if the label exists)."""
        ...

    def signer(self, label: str) -> rsa.RSAPrivateKey:
        """An object whose ``sign()`` signs with the key ``label``."""
        ...

    def public_key(self, label: str) -> rsa.RSAPublicKey:
        ...

    def labels(self) -> list[str]:
        ...


def check_label(label: str) -> str:
    if not _LABEL.match(label):
        raise KeyStoreError(f"invalid key label {label!r}")
    return label


class FileKeyStore:
    """CA keys as passphrase-encrypted PKCS#8 files (mode 0600) in one folder."""

    def __init__(self, folder: Path, passphrase: bytes) -> None:
        if len(passphrase) < 12:
            raise KeyStoreError("the CA passphrase must be at least 12 characters")
        self._folder = folder
        self._passphrase = passphrase
        self._loaded: dict[str, rsa.RSAPrivateKey] = {}
        self._lock = threading.Lock()

    def _path(self, label: str) -> Path:
        return self._folder / f"{check_label(label)}.key.pem"

    def create_key(self, label: str) -> rsa.RSAPublicKey:
        path = self._path(label)
        key = rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=KEY_SIZE)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.BestAvailableEncryption(self._passphrase))
        self._folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise KeyStoreError(f"a key labelled {label!r} already exists") from None
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        with self._lock:
            self._loaded[label] = key
        return key.public_key()

    def signer(self, label: str) -> rsa.RSAPrivateKey:
        with self._lock:
            key = self._loaded.get(label)
            if key is None:
                key = self._load(label)
                self._loaded[label] = key
            return key

    def public_key(self, label: str) -> rsa.RSAPublicKey:
        return self.signer(label).public_key()

    def labels(self) -> list[str]:
        if not self._folder.is_dir():
            return []
        return sorted(p.name.removesuffix(".key.pem") for p in self._folder.glob("*.key.pem"))

    def _load(self, label: str) -> rsa.RSAPrivateKey:
        path = self._path(label)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyStoreError(f"no key labelled {label!r}") from None
        try:
            key = serialization.load_pem_private_key(data, password=self._passphrase)
        except (ValueError, TypeError):
            raise KeyStoreError(f"the key {label!r} cannot be opened: wrong passphrase?") from None
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyStoreError(f"the key {label!r} is not an RSA key")
        return key
