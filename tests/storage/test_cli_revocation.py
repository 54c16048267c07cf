"""The revocation service from the shell: a change at the counter revokes, CRLs, status."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from jukibridge.change_requests import Relocation
from jukibridge.register import Register
from tests.storage.conftest import Jpki, enrol_card
from tests.storage.helpers import arrive


def _certificates(jpki: Jpki, folder: Path, card: Path) -> tuple[Path, Path]:
    signing, auth = folder / "sign.pem", folder / "auth.pem"
    jpki("card", "read-cert", str(card), "--kind", "sign", "--pin-file",
         str(folder / "sign.pin"), "-o", str(signing))
    jpki("card", "read-cert", str(card), "--kind", "auth", "-o", str(auth))
    return signing, auth


def test_a_relocation_revokes_the_signing_certificate_only(
        jpki: Jpki, card_instance: Path, register: Register) -> None:
    code = arrive(register)
    card, _ = enrol_card(jpki, card_instance, code)
    signing, auth = _certificates(jpki, card_instance, card)
    assert jpki("status", str(signing)).output.strip() == "good"
    register.perform("clerk", Relocation(resident_codes=[code], address="東町5番8号"))
    jpki("tiers", "drain")
    assert "1 revocation notices applied" in jpki("revocation", "run").output
    revoked = jpki("status", str(signing), ok=False)
    assert revoked.exit_code == 1 and "revoked: affiliationChanged" in revoked.output
    assert jpki("status", str(auth)).output.strip() == "good"
    assert "0 revocation notices applied" in jpki("revocation", "run").output  # exactly once

    out = card_instance / "crls"
    jpki("crl", "publish", "--out", str(out))
    serial = x509.load_pem_x509_certificate(signing.read_bytes()).serial_number
    partition = x509.load_der_x509_crl((out / "sign-1" / "112089.crl").read_bytes())
    assert partition.get_revoked_certificate_by_serial_number(serial) is not None
    idp = partition.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    assert idp.critical
    assert (out / "sign-1" / "full.crl").exists() and (out / "auth-1" / "full.crl").exists()


def test_revocation_on_request_and_the_lost_card_hold(jpki: Jpki, card_instance: Path,
                                                      register: Register) -> None:
    code = arrive(register)
    card, _ = enrol_card(jpki, card_instance, code)
    signing, auth = _certificates(jpki, card_instance, card)
    serial = str(x509.load_pem_x509_certificate(auth.read_bytes()).serial_number)
    assert "keyCompromise" in jpki("revoke", serial, "--key-compromise",
                                   "--operator", "clerk").output
    again = jpki("revoke", serial, "--operator", "clerk").output
    assert "already revoked" in again and "nothing changed" in again
    card_id = jpki("card", "info", str(card)).output  # the card is still readable
    assert "authentication PIN: 3 tries left" in card_id
    unknown = jpki("revoke", "12345", "--operator", "clerk", ok=False)
    assert unknown.exit_code == 1 and "no certificate with serial 12345" in unknown.output
    assert "good" in jpki("status", str(signing)).output
