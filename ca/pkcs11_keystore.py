"""CA keys on a PKCS#11 token (an HSM; SoftHSM2 in tests), behind the ``KeyStore`` interface.

Keys are generated on the token, sensitive and never extractable; a *signer* is an
``rsa.RSAPrivateKey`` whose ``sign()`` forwards to the token, so ``cryptography``'s certificate,
CRL and OCSP builders sign through it (pinned by ``tests/unit/test_pkcs11_keystore.py``).

python-pkcs11 initialises the library without thread locking, and a token's login state is shared
by every session of the process: so there is one lock around every token call, and one session,
logged in once, per (module, token) in each process, opened on first use and kept.
"""

from __future__ import annotations

import hmac
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NoReturn

import pkcs11
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding as asym_padding
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.utils import NoDigestInfo, Prehashed
from pkcs11 import Attribute, KeyType, Mechanism, MechanismFlag, ObjectClass
from pkcs11 import exceptions as p11

from ca.errors import KeyStoreError
from ca.keystore import KEY_SIZE, PUBLIC_EXPONENT, check_label

# DER prefix of a DigestInfo for SHA-256 with NULL parameters (RFC 8017 §9.2, note 1).
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")

_LOCK = threading.RLock()  # every call into any PKCS#11 module, process-wide


@dataclass
class _Login:
    """The process's logged-in session on one token, with the key handles found through it."""

    session: pkcs11.Session
    pin: bytes
    private: dict[str, pkcs11.SignMixin] = field(default_factory=dict)
    public: dict[str, rsa.RSAPublicKey] = field(default_factory=dict)


_logins: dict[tuple[str, str], _Login] = {}
_loaded: set[str] = set()  # module paths initialised in this process
_inherited: set[str] = set()  # module paths initialised by the parent of this forked process


def _forget_after_fork() -> None:
    """In a forked child: a fresh lock, no sessions, and every module to be reinitialised."""
    global _LOCK
    _LOCK = threading.RLock()
    _logins.clear()
    _inherited.update(_loaded)
    _loaded.clear()


os.register_at_fork(after_in_child=_forget_after_fork)

_MESSAGES: dict[type[p11.PKCS11Error], str] = {
    p11.PinIncorrect: "wrong PIN",
    p11.PinLocked: "the PIN is locked",
    p11.PinExpired: "the PIN has expired",
    p11.UserPinNotInitialized: "the user PIN of the token is not initialised",
    p11.NoSuchToken: "token not found",
    p11.MultipleTokensReturned: "several tokens carry this label",
    p11.TokenNotPresent: "token not present",
    p11.DeviceRemoved: "the token was removed",
    p11.NoSuchKey: "key not found",
    p11.MultipleObjectsReturned: "several keys carry this label",
    p11.DataLenRange: "input of the wrong length",
}


@contextmanager
def _token_call(what: str) -> Iterator[None]:
    """Hold the process-wide lock and turn library errors into ``KeyStoreError``."""
    with _LOCK:
        try:
            yield
        except p11.PKCS11Error as exc:
            reason = _MESSAGES.get(type(exc)) or f"{type(exc).__name__} {exc}".strip()
            raise KeyStoreError(f"{what}: {reason}") from exc


class Pkcs11KeyStore:
    """CA keys as RSA-2048 key pairs generated on a PKCS#11 token, labelled by key label."""

    def __init__(self, module_path: str, token_label: str, pin: str) -> None:
        self._module_path = module_path
        self._token_label = token_label
        self._pin = pin

    def create_key(self, label: str) -> rsa.RSAPublicKey:
        check_label(label)
        with _token_call(f"cannot create the key {label!r}"):
            login = self._login()
            if next(login.session.get_objects({Attribute.LABEL: label}), None) is not None:
                raise KeyStoreError(f"a key labelled {label!r} already exists")
            login.session.generate_keypair(
                KeyType.RSA, KEY_SIZE, label=label, id=label.encode(), store=True,
                capabilities=MechanismFlag.SIGN | MechanismFlag.VERIFY,
                public_template={Attribute.TOKEN: True, Attribute.PRIVATE: False,
                                 Attribute.PUBLIC_EXPONENT: PUBLIC_EXPONENT.to_bytes(3, "big")},
                private_template={Attribute.TOKEN: True, Attribute.PRIVATE: True,
                                  Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False},
            )
        return self.public_key(label)

    def signer(self, label: str) -> rsa.RSAPrivateKey:
        return _TokenSigner(self, label, self.public_key(label))

    def public_key(self, label: str) -> rsa.RSAPublicKey:
        with _token_call(f"cannot read the public key {label!r}"):
            login = self._login()
            key = login.public.get(label)
            if key is None:
                obj = login.session.get_key(ObjectClass.PUBLIC_KEY, KeyType.RSA, label=label)
                n = int.from_bytes(obj[Attribute.MODULUS], "big")
                e = int.from_bytes(obj[Attribute.PUBLIC_EXPONENT], "big")
                key = rsa.RSAPublicNumbers(e, n).public_key()
                login.public[label] = key
            return key

    def labels(self) -> list[str]:
        with _token_call("cannot list the keys"):
            session = self._login().session
            found = session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                                         Attribute.KEY_TYPE: KeyType.RSA})
            return sorted(str(obj[Attribute.LABEL]) for obj in found)

    def key_protection(self, label: str) -> dict[str, bool]:
        """What the token says of the private key ``label`` (for a key ceremony record)."""
        names = {"sensitive": Attribute.SENSITIVE, "extractable": Attribute.EXTRACTABLE,
                 "always_sensitive": Attribute.ALWAYS_SENSITIVE,
                 "never_extractable": Attribute.NEVER_EXTRACTABLE,
                 "local": Attribute.LOCAL, "token": Attribute.TOKEN}
        with _token_call(f"cannot read the key {label!r}"):
            key = self._private_key(self._login(), label)
            values = key.get_attributes(list(names.values()))
            return {name: bool(values[attribute]) for name, attribute in names.items()}

    def _sign(self, label: str, data: bytes, mechanism: Mechanism) -> bytes:
        """Sign ``data`` with the private key ``label`` using ``mechanism``, on the token."""
        with _token_call(f"cannot sign with the key {label!r}"):
            key = self._private_key(self._login(), label)
            return bytes(key.sign(data, mechanism=mechanism))

    @staticmethod
    def _private_key(login: _Login, label: str) -> pkcs11.SignMixin:
        """The handle of the private key ``label``, found once per session (lock held)."""
        key = login.private.get(label)
        if key is None:
            found = login.session.get_key(ObjectClass.PRIVATE_KEY, KeyType.RSA, label=label)
            if not isinstance(found, pkcs11.SignMixin):
                raise KeyStoreError(f"the key {label!r} cannot sign")
            key = login.private[label] = found
        return key

    def _login(self) -> _Login:
        """The process's session on the token, opened and logged in on first use (lock held)."""
        where = (self._module_path, self._token_label)
        pin = self._pin.encode()
        login = _logins.get(where)
        if login is not None:
            if not hmac.compare_digest(login.pin, pin):
                raise KeyStoreError(f"token {self._token_label!r} is already logged in "
                                    "in this process with another PIN")
            return login
        if not os.path.isfile(self._module_path):
            raise KeyStoreError(f"PKCS#11 module not found: {self._module_path}")
        with _token_call(f"cannot open the token {self._token_label!r}"):
            lib = pkcs11.lib(self._module_path)
            if self._module_path in _inherited:  # the parent's library state is unusable
                lib.reinitialize()
                _inherited.discard(self._module_path)
            _loaded.add(self._module_path)
            token = lib.get_token(token_label=self._token_label)
            try:
                session = token.open(rw=True, user_pin=self._pin)
            except p11.UserAlreadyLoggedIn:  # logged in by other code: the state is shared
                session = token.open(rw=True)
        login = _logins[where] = _Login(session, pin)
        return login


class _TokenSigner(rsa.RSAPrivateKey):
    """A private key that stays on the token: signs PKCS#1 v1.5 with SHA-256 and nothing else."""

    def __init__(self, store: Pkcs11KeyStore, label: str, public: rsa.RSAPublicKey) -> None:
        self._store = store
        self._label = label
        self._public = public

    def sign(self, data: bytes, padding: asym_padding.AsymmetricPadding,
             algorithm: Prehashed | hashes.HashAlgorithm | NoDigestInfo) -> bytes:
        if not isinstance(padding, asym_padding.PKCS1v15):
            raise KeyStoreError("the token signs with PKCS#1 v1.5 padding only")
        data = bytes(data)
        if isinstance(algorithm, hashes.SHA256):
            return self._store._sign(self._label, data, Mechanism.SHA256_RSA_PKCS)
        # Prehashed has no public accessor for its hash algorithm.
        if (isinstance(algorithm, Prehashed)
                and isinstance(getattr(algorithm, "_algorithm", None), hashes.SHA256)):
            if len(data) != hashes.SHA256.digest_size:
                raise KeyStoreError(f"a SHA-256 digest is 32 bytes, not {len(data)}")
            block = _SHA256_DIGEST_INFO + data
            if len(block) > self.key_size // 8 - 11:
                raise KeyStoreError("the DigestInfo is too long for the key")
            return self._store._sign(self._label, block, Mechanism.RSA_PKCS)
        raise KeyStoreError("the token signs SHA-256 (or a prehashed SHA-256 digest) only")

    @property
    def key_size(self) -> int:
        return self._public.key_size

    def public_key(self) -> rsa.RSAPublicKey:
        return self._public

    def decrypt(self, ciphertext: bytes, padding: asym_padding.AsymmetricPadding) -> bytes:
        self._refuse("decrypts nothing")

    def private_numbers(self) -> rsa.RSAPrivateNumbers:
        self._refuse("never reveals its private numbers")

    def private_bytes(self, encoding: serialization.Encoding,
                      format: serialization.PrivateFormat,
                      encryption_algorithm: serialization.KeySerializationEncryption) -> bytes:
        self._refuse("is not extractable")

    def __copy__(self) -> _TokenSigner:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _TokenSigner:
        return self

    def __repr__(self) -> str:
        return f"<token signer {self._label!r}>"

    def _refuse(self, what: str) -> NoReturn:
        raise KeyStoreError(f"the token key {self._label!r} {what}")
