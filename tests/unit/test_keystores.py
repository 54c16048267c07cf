"""One contract for every ``KeyStore``: the file and PKCS#11 stores pass the same checks."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from ca.errors import KeyStoreError
from ca.keystore import FileKeyStore, KeyStore
from tests.unit.test_pkcs11_keystore import SoftHsm, fresh_label, self_signed_ca, start_softhsm

PKCS1 = padding.PKCS1v15()


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> SoftHsm:
    # The same SoftHSM2 as test_pkcs11_keystore.py: started once per process.
    return start_softhsm(tmp_path_factory.getbasetemp() / "softhsm")


@pytest.fixture(params=["file", "pkcs11"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> KeyStore:
    if request.param == "file":
        return FileKeyStore(tmp_path / "keys", b"correct horse battery staple")
    hsm: SoftHsm = request.getfixturevalue("softhsm")
    return hsm.store()


def test_create_key_then_public_key_and_labels(store: KeyStore) -> None:
    label = fresh_label()
    assert label not in store.labels()
    public = store.create_key(label)
    assert isinstance(public, rsa.RSAPublicKey)
    assert (public.key_size, public.public_numbers().e) == (2048, 65537)
    assert store.public_key(label).public_numbers() == public.public_numbers()
    assert label in store.labels()
    assert store.labels() == sorted(store.labels())


def test_labels_are_checked_and_unique(store: KeyStore) -> None:
    label = fresh_label()
    store.create_key(label)
    with pytest.raises(KeyStoreError):
        store.create_key(label)
    with pytest.raises(KeyStoreError):
        store.create_key("../escape")
    with pytest.raises(KeyStoreError):
        store.signer(fresh_label())
    with pytest.raises(KeyStoreError):
        store.public_key(fresh_label())


def test_signer_signs_for_the_builders(store: KeyStore) -> None:
    label = fresh_label()
    public = store.create_key(label)
    signer = store.signer(label)
    assert isinstance(signer, rsa.RSAPrivateKey)
    assert signer.key_size == 2048
    assert signer.public_key().public_numbers() == public.public_numbers()
    data = b"to be signed"
    signature = signer.sign(data, PKCS1, hashes.SHA256())
    public.verify(signature, data, PKCS1, hashes.SHA256())
    digest = hashlib.sha256(data).digest()
    assert signer.sign(digest, PKCS1, Prehashed(hashes.SHA256())) == signature
    certificate = self_signed_ca(signer, datetime(2026, 4, 1, tzinfo=UTC))
    certificate.verify_directly_issued_by(certificate)
