"""``jpki bench verify`` (a tiny smoke run), its 100 KB submission, and the endpoint's fast
path on a real instance: a cached pass never hides a revocation, and the kept trust store is read
again when a certificate of a new CA generation comes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from jukibridge.change_requests import Relocation
from jukibridge.register import Register
from pki.clock import FrozenClock
from pki.signing.xml import parse_submission
from revocation.ocsp import ISSUER_RELOAD
from tests.storage.conftest import Jpki, enrol_card
from tests.storage.helpers import arrive
from tests.unit.test_verify_cache import validations  # noqa: F401  (fixture)
from web.app import create_app
from web.bench_verify import large_submission
from web.cli import main
from web.config import load_settings
from web.evidence import trust_store
from web.services import Services


def test_the_bench_submission_is_the_example_grown_to_size() -> None:
    document = large_submission(100 * 1024)
    assert 100 * 1024 <= len(document) < 102 * 1024
    assert large_submission(100 * 1024) == document  # deterministic
    submission = parse_submission(document, require_signature=False)
    assert submission.signatures == []
    text = document.decode("utf-8")
    assert "確定申告書B" in text and "髙橋　太郎" in text  # the example's form is kept
    assert text.count("<明細 ") > 150 and "<医療費の合計 " in text
    assert len(large_submission(8 * 1024)) < len(document)


def test_jpki_bench_verify_prints_both_rates_and_their_ratio() -> None:
    result = CliRunner().invoke(main, ["bench", "verify", "--size", "4096", "--rounds", "1",
                                       "--seconds", "0.1"])
    assert result.exit_code == 0, result.output
    for text in ("signxml bare check", "endpoint (Flask test client)",
                 "endpoint over HTTP (loopback)", "× bare"):
        assert text in result.output


@pytest.fixture
def services(card_instance: Path, clock: FrozenClock) -> Iterator[Services]:
    built = Services.build(load_settings(), clock=clock)
    yield built
    built.close()


@pytest.fixture
def client(services: Services) -> FlaskClient:
    return create_app(services=services, test_config={"TESTING": True}).test_client()


def _sign(jpki: Jpki, folder: Path, register: Register, name: str) -> tuple[str, bytes]:
    """A new resident's card, and a small bench submission signed with it."""
    code = arrive(register)
    card, _ = enrol_card(jpki, folder, code, name=f"{name}.jcard")
    source, out = folder / f"{name}.xml", folder / f"{name}-signed.xml"
    source.write_bytes(large_submission(8 * 1024))
    jpki("sign", str(source), "--card", str(card), "--pin-file", str(folder / "sign.pin"),
         "-o", str(out))
    return code, out.read_bytes()


@pytest.fixture
def signed(jpki: Jpki, card_instance: Path, register: Register) -> tuple[str, bytes]:
    return _sign(jpki, card_instance, register, "first")


def _verdict(client: FlaskClient, document: bytes) -> tuple[str, str | None]:
    response = client.post("/api/v1/verify", data=document, content_type="application/xml")
    assert response.status_code == 200
    (signature,) = json.loads(response.data)["signatures"]
    return signature["indication"], signature["sub_indication"]


def test_a_relocation_is_reported_revoked_at_once_after_cached_passes(
        client: FlaskClient, signed: tuple[str, bytes], jpki: Jpki, register: Register,
        validations: list[int]) -> None:  # noqa: F811
    code, document = signed
    assert _verdict(client, document) == ("TOTAL_PASSED", None)
    assert _verdict(client, document) == ("TOTAL_PASSED", None)
    assert len(validations) == 1  # the second pass came from the cache

    register.perform("clerk", Relocation(resident_codes=[code], address="東町5番8号"))
    jpki("tiers", "drain")
    jpki("revocation", "run")
    assert _verdict(client, document) == ("TOTAL_FAILED", "REVOKED")
    assert len(validations) == 2


def test_the_trust_store_is_kept_and_read_again_for_a_new_generation(
        client: FlaskClient, services: Services, signed: tuple[str, bytes], jpki: Jpki,
        card_instance: Path, register: Register, clock: FrozenClock) -> None:
    _, document = signed
    kept = trust_store(services.ca)
    assert trust_store(services.ca) is kept and len(kept.roots) == 1
    assert _verdict(client, document) == ("TOTAL_PASSED", None)

    jpki("ca", "rollover", "sign")  # by another process: nothing tells this one
    assert trust_store(services.ca) is kept
    assert _verdict(client, document) == ("TOTAL_PASSED", None)  # the old root still holds
    _, newer = _sign(jpki, card_instance, register, "second")  # issued by sign-2
    clock.advance(ISSUER_RELOAD)  # our OCSP responder looks for new issuers once a minute
    assert _verdict(client, newer) == ("TOTAL_PASSED", None)
    renewed = trust_store(services.ca)
    assert renewed is not kept and (len(renewed.roots), len(renewed.links)) == (2, 2)
    assert _verdict(client, document) == ("TOTAL_PASSED", None)
