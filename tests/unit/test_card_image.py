"""The sealed card image: tampering, wrong keys, rollback, locking, and keys that never leave."""

from __future__ import annotations

import base64
import inspect
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from pki.card import Card, JpkiApplet, VirtualCard
from pki.card.image import (
    ImageError,
    RolledBackImage,
    TamperedImage,
    WrongSealKey,
    decode_image,
    read_image,
    unseal,
)
from tests.unit.test_card import (
    AUTH_PIN,
    SEAL_KEY,
    SELECT,
    SELECT_AP,
    SIGN_PASSWORD,
    VERIFY_AUTH_BAD,
    Issued,
    issue_card,
    run,
)


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Issued:
    return issue_card(tmp_path_factory.mktemp("card"))


@pytest.fixture
def card_path(issued: Issued, tmp_path: Path) -> Path:
    path = tmp_path / "card.img"
    shutil.copyfile(issued.path, path)
    return path


def _flip(path: Path, offset: int) -> None:
    blob = bytearray(path.read_bytes())
    blob[offset] ^= 0x01
    path.write_bytes(bytes(blob))


@pytest.mark.parametrize("offset", [0, 9, 20, 40, 100, -1], ids=lambda o: f"byte {o}")
def test_tampered_image_is_refused(card_path: Path, offset: int) -> None:
    _flip(card_path, offset)
    with pytest.raises(TamperedImage if offset != 9 else WrongSealKey):
        VirtualCard.open(card_path, SEAL_KEY)


def test_truncated_image_is_refused(card_path: Path) -> None:
    card_path.write_bytes(card_path.read_bytes()[:-1])
    with pytest.raises(TamperedImage):
        VirtualCard.open(card_path, SEAL_KEY)


def test_wrong_seal_key_is_refused(card_path: Path) -> None:
    with pytest.raises(WrongSealKey):
        VirtualCard.open(card_path, bytes(32))


def test_short_seal_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="32 bytes"):
        VirtualCard.create(tmp_path / "c.img", b"short", auth_pin="1234", signing_password="A1B2C3")


def test_create_does_not_overwrite(card_path: Path) -> None:
    with pytest.raises(ImageError, match="exists"):
        VirtualCard.create(card_path, SEAL_KEY, auth_pin=AUTH_PIN, signing_password=SIGN_PASSWORD)


def test_image_holds_no_private_key_or_pin_in_clear(card_path: Path) -> None:
    blob = card_path.read_bytes()
    image = decode_image(unseal(blob, SEAL_KEY))
    for key_der in image.keys.values():
        assert key_der not in blob
        assert key_der[32:96] not in blob
        assert base64.b64encode(key_der)[:64] not in blob
    assert b"PRIVATE KEY" not in blob
    assert b"JPKIAPICCTOKEN" not in blob  # even public content is sealed
    payload = unseal(blob, SEAL_KEY)
    assert AUTH_PIN.encode() not in payload  # only salted digests, even inside the seal
    assert SIGN_PASSWORD.encode() not in payload


def test_image_file_is_private_and_writes_leave_no_temp_files(card_path: Path) -> None:
    with VirtualCard.open(card_path, SEAL_KEY) as card:
        run(card, (SELECT_AP, "9000"), (SELECT["0018"], "9000"), (VERIFY_AUTH_BAD, "63C2"))
    assert card_path.stat().st_mode & 0o077 == 0
    assert sorted(p.name for p in card_path.parent.iterdir()) == ["card.img", "card.img.lock"]


def test_rollback_to_an_older_image_is_detected(card_path: Path, tmp_path: Path) -> None:
    backup = tmp_path / "old.img"
    shutil.copyfile(card_path, backup)
    with VirtualCard.open(card_path, SEAL_KEY) as card:
        run(card, (SELECT_AP, "9000"), (SELECT["0018"], "9000"), (VERIFY_AUTH_BAD, "63C2"))
        last_generation = card.generation
    shutil.copyfile(backup, card_path)  # an attacker restores the image with 3 tries
    with pytest.raises(RolledBackImage):
        VirtualCard.open(card_path, SEAL_KEY, min_generation=last_generation)
    with VirtualCard.open(card_path, SEAL_KEY) as card:  # without the registry's value: undetected
        assert card.generation < last_generation


def test_generation_grows_with_every_write(card_path: Path) -> None:
    with VirtualCard.open(card_path, SEAL_KEY) as card:
        before = card.generation
        run(card, (SELECT_AP, "9000"), (SELECT["0018"], "9000"), (VERIFY_AUTH_BAD, "63C2"))
        assert card.generation == before + 1
    assert read_image(card_path, SEAL_KEY).generation == before + 1


def test_one_reader_at_a_time(card_path: Path) -> None:
    with VirtualCard.open(card_path, SEAL_KEY), pytest.raises(ImageError, match="in use"):
        VirtualCard.open(card_path, SEAL_KEY)
    with VirtualCard.open(card_path, SEAL_KEY) as card:
        assert card.card_id


def test_closed_card_cannot_change_counters(card_path: Path) -> None:
    card = VirtualCard.open(card_path, SEAL_KEY)
    card.close()
    run(card, (SELECT_AP, "9000"), (SELECT["0018"], "9000"), (VERIFY_AUTH_BAD, "6581"))


def _reachable_private_keys(obj: object) -> list[str]:
    """Public attributes (and properties) that hold a private key or its numbers."""
    found = []
    for name in dir(obj):
        if name.startswith("_"):
            continue
        value = getattr(obj, name)
        if isinstance(value, rsa.RSAPrivateKey | rsa.RSAPrivateNumbers):
            found.append(name)
    return found


@pytest.mark.parametrize("cls", [VirtualCard, JpkiApplet, Card])
def test_no_public_method_returns_a_private_key(cls: type) -> None:
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") or not callable(member):
            continue
        returns = str(inspect.signature(member).return_annotation)
        assert "Private" not in returns, f"{cls.__name__}.{name} returns {returns}"
        assert "bytes" not in returns or name in {"transmit", "process", "sign", "sign_raw"}, name


def test_no_public_attribute_holds_a_private_key(card_path: Path) -> None:
    with VirtualCard.open(card_path, SEAL_KEY) as virtual:
        client = Card(virtual)
        assert _reachable_private_keys(virtual) == []
        assert _reachable_private_keys(client) == []
        assert "PRIVATE" not in repr(virtual).upper()
