"""``Pkcs11KeyStore`` against SoftHSM2 (installed from Debian when missing).

Also pins what NOTES.md says is not a documented guarantee: ``cryptography``'s certificate, CRL
and OCSP builders sign through an ``rsa.RSAPrivateKey`` subclass whose ``sign()`` is the token's.
"""

from __future__ import annotations

import functools
import hashlib
import multiprocessing
import os
import shutil
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509 import ocsp
from cryptography.x509.oid import NameOID

from ca.errors import KeyStoreError
from ca.pkcs11_keystore import Pkcs11KeyStore
from tests.debian import install

DEFAULT_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
TOKEN = "jpki-test"
SPARE_TOKEN = "jpki-spare"  # never logged in by other tests: a wrong PIN meets the token itself
PIN = "user-pin-4711"
SO_PIN = "so-pin-08150815"
CA_NAME = x509.Name([
    x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
    x509.NameAttribute(NameOID.ORGANIZATION_NAME, "JPKI"),
    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "JPKI for digital signature"),
])
PKCS1 = padding.PKCS1v15()


@dataclass(frozen=True)
class SoftHsm:
    module: str
    conf: Path

    def store(self, token: str = TOKEN, pin: str = PIN) -> Pkcs11KeyStore:
        return Pkcs11KeyStore(self.module, token, pin)


def _find_module() -> str:
    if os.path.isfile(DEFAULT_MODULE):
        return DEFAULT_MODULE
    listing = subprocess.run(["dpkg", "-L", "softhsm2", "libsofthsm2"], capture_output=True,
                             text=True, check=False).stdout
    for line in listing.splitlines():
        if line.endswith("/libsofthsm2.so") and os.path.isfile(line):
            return line
    raise AssertionError("libsofthsm2.so not found after installing softhsm2")


@functools.cache
def start_softhsm(folder: Path) -> SoftHsm:
    """Install SoftHSM2 if needed and initialise two tokens under ``folder`` (once a process).

    ``SOFTHSM2_CONF`` must be set before the PKCS#11 library is first loaded in the process.
    """
    install("softhsm2", present=lambda: shutil.which("softhsm2-util") is not None)
    tokens = folder / "tokens"
    tokens.mkdir(parents=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                    "log.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    for label in (TOKEN, SPARE_TOKEN):
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", label,
                        "--so-pin", SO_PIN, "--pin", PIN], check=True, capture_output=True)
    return SoftHsm(_find_module(), conf)


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHsm:
    return start_softhsm(tmp_path_factory.getbasetemp() / "softhsm")


def fresh_label() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"


def self_signed_ca(signer: rsa.RSAPrivateKey, now: datetime) -> x509.Certificate:
    """A root CA certificate in the shape of DESIGN.md §4, signed through ``signer``."""
    public = signer.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(CA_NAME).issuer_name(CA_NAME)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(signer, hashes.SHA256())
    )


def verify(public: rsa.RSAPublicKey, signature: bytes, data: bytes) -> None:
    public.verify(signature, data, PKCS1, hashes.SHA256())


@pytest.fixture(scope="module")
def key(softhsm: SoftHsm) -> tuple[Pkcs11KeyStore, str]:
    store = softhsm.store()
    label = fresh_label()
    store.create_key(label)
    return store, label


def test_create_key_on_the_token(softhsm: SoftHsm) -> None:
    store = softhsm.store()
    label = fresh_label()
    public = store.create_key(label)
    assert public.key_size == 2048
    assert public.public_numbers().e == 65537
    assert store.public_key(label).public_numbers() == public.public_numbers()
    assert label in store.labels()
    assert label in softhsm.store().labels()  # another store object sees the token's keys


def test_duplicate_label_refused(key: tuple[Pkcs11KeyStore, str]) -> None:
    store, label = key
    with pytest.raises(KeyStoreError, match="already exists"):
        store.create_key(label)
    assert store.labels().count(label) == 1


def test_invalid_and_unknown_labels_refused(softhsm: SoftHsm) -> None:
    store = softhsm.store()
    with pytest.raises(KeyStoreError, match="invalid key label"):
        store.create_key("Bad Label")
    with pytest.raises(KeyStoreError, match="key not found"):
        store.signer("no-such-key")


def test_signatures_verify_with_the_public_key(key: tuple[Pkcs11KeyStore, str]) -> None:
    store, label = key
    signer = store.signer(label)
    assert isinstance(signer, rsa.RSAPrivateKey)
    assert signer.key_size == 2048
    data = "署名する文書".encode() * 100
    signature = signer.sign(data, PKCS1, hashes.SHA256())
    verify(store.public_key(label), signature, data)
    prehashed = signer.sign(hashlib.sha256(data).digest(), PKCS1, Prehashed(hashes.SHA256()))
    assert prehashed == signature  # PKCS#1 v1.5 is deterministic: the DigestInfo is right


def test_signer_refuses_what_it_does_not_do(key: tuple[Pkcs11KeyStore, str]) -> None:
    store, label = key
    signer = store.signer(label)
    pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.MAX_LENGTH)
    with pytest.raises(KeyStoreError, match=r"PKCS#1 v1\.5"):
        signer.sign(b"data", pss, hashes.SHA256())
    with pytest.raises(KeyStoreError, match="SHA-256"):
        signer.sign(b"data", PKCS1, hashes.SHA384())
    with pytest.raises(KeyStoreError, match="SHA-256"):
        signer.sign(bytes(48), PKCS1, Prehashed(hashes.SHA384()))
    with pytest.raises(KeyStoreError, match="32 bytes"):
        signer.sign(bytes(31), PKCS1, Prehashed(hashes.SHA256()))
    with pytest.raises(KeyStoreError):
        signer.decrypt(bytes(256), PKCS1)


def test_private_key_not_extractable(key: tuple[Pkcs11KeyStore, str]) -> None:
    store, label = key
    assert store.key_protection(label) == {
        "sensitive": True, "extractable": False, "always_sensitive": True,
        "never_extractable": True, "local": True, "token": True,
    }
    signer = store.signer(label)
    with pytest.raises(KeyStoreError, match="not extractable"):
        signer.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    with pytest.raises(KeyStoreError, match="private numbers"):
        signer.private_numbers()


def test_cryptography_builders_sign_through_the_token(
        key: tuple[Pkcs11KeyStore, str], tmp_path: Path) -> None:
    store, label = key
    signer = store.signer(label)
    public = store.public_key(label)
    now = datetime.now(UTC).replace(microsecond=0)
    ca = self_signed_ca(signer, now)
    verify(public, ca.signature, ca.tbs_certificate_bytes)
    ca.verify_directly_issued_by(ca)

    revoked = (x509.RevokedCertificateBuilder().serial_number(4711)
               .revocation_date(now - timedelta(hours=1)).build())
    crl = (x509.CertificateRevocationListBuilder().issuer_name(CA_NAME)
           .last_update(now).next_update(now + timedelta(days=1))
           .add_revoked_certificate(revoked)
           .add_extension(x509.CRLNumber(1), critical=False)
           .sign(signer, hashes.SHA256()))
    assert crl.is_signature_valid(public)

    response = (ocsp.OCSPResponseBuilder()
                .add_response(cert=ca, issuer=ca, algorithm=hashes.SHA256(),
                              cert_status=ocsp.OCSPCertStatus.GOOD, this_update=now,
                              next_update=now + timedelta(hours=12), revocation_time=None,
                              revocation_reason=None)
                .responder_id(ocsp.OCSPResponderEncoding.HASH, ca)
                .sign(signer, hashes.SHA256()))
    verify(public, response.signature, response.tbs_response_bytes)

    if shutil.which("openssl") is None:
        return
    ca_pem = tmp_path / "ca.pem"
    ca_pem.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    crl_pem = tmp_path / "crl.pem"
    crl_pem.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    ocsp_der = tmp_path / "ocsp.der"
    ocsp_der.write_bytes(response.public_bytes(serialization.Encoding.DER))
    checks = [
        ["openssl", "verify", "-check_ss_sig", "-CAfile", ca_pem, ca_pem],
        ["openssl", "crl", "-in", crl_pem, "-CAfile", ca_pem, "-noout", "-verify"],
        ["openssl", "ocsp", "-respin", ocsp_der, "-VAfile", ca_pem, "-CAfile", ca_pem],
    ]
    outputs = [subprocess.run(c, capture_output=True, text=True, check=False) for c in checks]
    for command, run in zip(checks, outputs, strict=True):
        assert run.returncode == 0, (command, run.stdout, run.stderr)
    assert f"{ca_pem}: OK" in outputs[0].stdout
    assert "verify OK" in outputs[1].stdout + outputs[1].stderr
    assert "Response verify OK" in outputs[2].stdout + outputs[2].stderr


def test_concurrent_signing_from_threads(key: tuple[Pkcs11KeyStore, str]) -> None:
    store, label = key
    public = store.public_key(label)
    messages = [f"message {i}".encode() for i in range(500)]

    def sign(message: bytes) -> bytes:
        # Searches and attribute reads interleaved with signatures: without the lock, memory
        # corruption crashes the process (most runs).
        assert label in store.labels()
        assert store.key_protection(label)["never_extractable"]
        with pytest.raises(KeyStoreError, match="key not found"):
            store.public_key("no-such-key")
        return store.signer(label).sign(message, PKCS1, hashes.SHA256())

    with ThreadPoolExecutor(max_workers=8) as pool:
        signatures = list(pool.map(sign, messages))
    for message, signature in zip(messages, signatures, strict=True):
        verify(public, signature, message)


def test_wrong_pin(softhsm: SoftHsm) -> None:
    with pytest.raises(KeyStoreError, match="wrong PIN"):
        softhsm.store(SPARE_TOKEN, "not-the-pin").labels()
    assert softhsm.store(SPARE_TOKEN, PIN).labels() == []  # a failed login leaves no trace


def test_another_pin_after_login_refused(key: tuple[Pkcs11KeyStore, str],
                                         softhsm: SoftHsm) -> None:
    store, label = key
    assert label in store.labels()  # this process is logged in to the token
    with pytest.raises(KeyStoreError, match="another PIN"):
        softhsm.store(TOKEN, "not-the-pin").labels()


def test_token_or_module_not_found(softhsm: SoftHsm, tmp_path: Path) -> None:
    with pytest.raises(KeyStoreError, match="token not found"):
        softhsm.store("no-such-token").labels()
    with pytest.raises(KeyStoreError, match="module not found"):
        Pkcs11KeyStore(str(tmp_path / "missing.so"), TOKEN, PIN).labels()
    not_a_module = tmp_path / "not-a-module.so"
    not_a_module.write_bytes(b"\x7fELF nonsense")
    with pytest.raises(KeyStoreError, match="cannot open the token"):
        Pkcs11KeyStore(str(not_a_module), TOKEN, PIN).labels()


def _sign_in_child(store: Pkcs11KeyStore, label: str, queue: multiprocessing.Queue[bytes]) -> None:
    queue.put(store.signer(label).sign(b"from a child", PKCS1, hashes.SHA256()))


def test_forked_child_opens_its_own_session(key: tuple[Pkcs11KeyStore, str]) -> None:
    store, label = key
    store.labels()  # the parent holds a logged-in session
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[bytes] = context.Queue()
    child = context.Process(target=_sign_in_child, args=(store, label, queue))
    child.start()
    signature = queue.get(timeout=30)
    child.join(timeout=30)
    assert child.exitcode == 0
    verify(store.public_key(label), signature, b"from a child")


def test_keys_persist_on_the_token_for_other_processes(
        key: tuple[Pkcs11KeyStore, str], softhsm: SoftHsm) -> None:
    _, label = key
    script = (
        "import sys\n"
        "from ca.pkcs11_keystore import Pkcs11KeyStore\n"
        "store = Pkcs11KeyStore(*sys.argv[1:4])\n"
        "print(sys.argv[4] in store.labels())\n"
    )
    run = subprocess.run([sys.executable, "-c", script, softhsm.module, TOKEN, PIN, label],
                         env={**os.environ, "SOFTHSM2_CONF": str(softhsm.conf)},
                         cwd=Path(__file__).parents[2], capture_output=True, text=True, check=True)
    assert run.stdout.strip() == "True"
