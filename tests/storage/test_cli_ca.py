"""The CA from the shell: the ceremony is idempotent, rollover, list and export."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from tests.storage.conftest import Jpki


def test_ceremony_rollover_list_and_export(jpki: Jpki, card_instance: Path) -> None:
    assert "already have their keys" in jpki("ca", "init").output
    assert "created sign-2" in jpki("ca", "rollover", "sign").output
    listed = jpki("ca", "list").output
    for name in ("sign-1", "sign-2", "auth-1"):
        assert name in listed
    assert "auth-2" not in listed
    out = card_instance / "export"
    assert "5 certificates written" in jpki("ca", "export", "--out", str(out)).output
    roots = {name: x509.load_pem_x509_certificate((out / f"{name}.pem").read_bytes())
             for name in ("sign-1", "sign-2", "auth-1")}
    links = [x509.load_pem_x509_certificate((out / f"sign-link-{i}.pem").read_bytes())
             for i in (1, 2)]
    links[0].verify_directly_issued_by(roots["sign-1"])  # NewWithOld: signed by the old key
    links[1].verify_directly_issued_by(roots["sign-2"])  # OldWithNew: signed by the new key
    assert roots["sign-1"].subject == roots["sign-2"].subject
    bad = jpki("ca", "rollover", "neither", ok=False)
    assert bad.exit_code == 2
