"""End to end from the shell: enrol, sign an e-Tax-style submission with the card, verify;
after a relocation the same signature is reported revoked."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from jukibridge.change_requests import Relocation
from jukibridge.register import Register
from tests.storage.conftest import Jpki, enrol_card
from tests.storage.helpers import arrive


def _example(folder: Path) -> Path:
    source = folder / "tax_return.xml"
    source.write_bytes(resources.files("pki").joinpath("signing/examples/tax_return.xml")
                       .read_bytes())
    return source


def test_sign_verify_then_revoked_after_a_relocation(jpki: Jpki, card_instance: Path,
                                                     register: Register) -> None:
    code = arrive(register)
    card, _ = enrol_card(jpki, card_instance, code)
    signed = card_instance / "signed.xml"
    jpki("sign", str(_example(card_instance)), "--card", str(card), "--pin-file",
         str(card_instance / "sign.pin"), "-o", str(signed))
    report = json.loads(jpki("verify", str(signed)).output)
    (signature,) = report["signatures"]
    assert report["indication"] == "TOTAL_PASSED" and signature["sub_indication"] is None
    assert signature["revocation"][0]["type"] == "ocsp"
    assert signature["revocation"][0]["cert_status"] == "good"
    assert "basic_four" not in signature
    entitled = json.loads(jpki("verify", str(signed), "--basic-four").output)
    assert entitled["signatures"][0]["basic_four"]["name"] == "山田　花子"

    register.perform("clerk", Relocation(resident_codes=[code], address="東町5番8号"))
    jpki("tiers", "drain")
    jpki("revocation", "run")
    result = jpki("verify", str(signed), ok=False)
    assert result.exit_code == 1
    revoked = json.loads(result.output)["signatures"][0]
    assert (revoked["indication"], revoked["sub_indication"]) == ("TOTAL_FAILED", "REVOKED")
    assert revoked["revocation"][0]["reason"] == "affiliation_changed"


def test_cms_and_a_tampered_submission(jpki: Jpki, card_instance: Path,
                                       register: Register) -> None:
    card, _ = enrol_card(jpki, card_instance, arrive(register))
    content = card_instance / "application.txt"
    content.write_text("申請書", "utf-8")
    signature = card_instance / "application.p7s"
    jpki("sign", str(content), "--cms", "--card", str(card), "--pin-file",
         str(card_instance / "sign.pin"), "-o", str(signature))
    assert json.loads(jpki("verify", str(signature), "--content", str(content)).output)[
        "indication"] == "TOTAL_PASSED"
    content.write_text("改ざんされた申請書", "utf-8")
    tampered = json.loads(jpki("verify", str(signature), "--content", str(content),
                               ok=False).output)
    assert tampered["signatures"][0]["sub_indication"] == "HASH_FAILURE"
    wrong = card_instance / "wrong.pin"
    wrong.write_text("WRONG1")
    refused = jpki("sign", str(content), "--cms", "--card", str(card), "--pin-file", str(wrong),
                   "-o", str(card_instance / "x.p7s"), ok=False)
    assert refused.exit_code == 1 and "WRONG1" not in refused.output
