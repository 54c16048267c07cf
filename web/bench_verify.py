"""``jpki bench verify``: verifications per second of a 100 KB signed submission.

On a scratch instance (SQLite, file key store, both CAs), one resident gets a virtual card
enrolled as at the counter (``web.enrolment.enrol``: the card generates its keys, the CA lints,
stores and signs both certificates). An e-Tax-style submission grown to about ``size`` bytes
(:func:`large_submission`) is signed with that card (``pki.signing.sign_xml``, through the card's
signing command). Then, alternating in rounds so that a noisy machine hurts both alike:

- **bare**: signxml's own check of the same bytes, handed the certificate object
  (``XMLVerifier().verify(data, x509_cert=cert)``, with the UTF-8 serialisation the Japanese
  element names need): signature and digest only, no path, no revocation;
- **endpoint**: ``POST /api/v1/verify`` through the Flask test client (in process, no network):
  the submission's safety checks, the signature, path validation to the JPKI roots with
  pyhanko-certvalidator and revocation evidence from our own OCSP responder, the JSON report;
- **HTTP** (optional): the same request over a loopback connection to the server ``jpki serve``
  runs (waitress), keep-alive, one client thread.

Every answer is checked once before timing (TOTAL_PASSED, with OCSP evidence ``good``).
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

from cryptography import x509
from flask import Flask
from lxml import etree
from signxml import XMLVerifier
from sqlalchemy import select

from jukibridge.tables import Person
from pki.card import Card
from pki.signing import card_signer
from pki.signing.xml import Utf8Serialisation, serialise, sign_xml
from web import secrets
from web.app import create_app
from web.bench import BENCH_OPERATOR
from web.bench_revocation import scratch_instance
from web.enrolment import enrol
from web.services import Services

DEFAULT_SIZE: Final = 100 * 1024
RESIDENTS: Final = 20  # the bench instance needs only an adult to enrol
AUTH_PIN: Final = "1234"
SIGNING_PASSWORD: Final = "BENCH1"
VERIFY_URL: Final = "/api/v1/verify"
XML_TYPE: Final = "application/xml"


class BenchFailed(Exception):
    """A verification did not answer what it must: no figure is reported."""


@dataclass(frozen=True)
class Rate:
    """Runs of one operation: how many, in how much wall-clock time and process CPU time."""

    count: int
    wall: float
    cpu: float

    @property
    def per_second(self) -> float:
        return self.count / self.wall

    @property
    def per_cpu_second(self) -> float:
        return self.count / self.cpu if self.cpu > 0 else float("inf")

    def __add__(self, other: Rate) -> Rate:
        return Rate(self.count + other.count, self.wall + other.wall, self.cpu + other.cpu)


@dataclass(frozen=True)
class VerifyBench:
    document_bytes: int
    rounds: int
    bare: Rate
    endpoint: Rate
    http: Rate | None

    def ratio(self, rate: Rate) -> float:
        """``rate`` against the bare check, in wall-clock time (the figure of the issue)."""
        return rate.per_second / self.bare.per_second

    def cpu_ratio(self, rate: Rate) -> float:
        """The same in process CPU time: less sensitive to other work on a shared machine."""
        return rate.per_cpu_second / self.bare.per_cpu_second


# -- the document ------------------------------------------------------------------------------

_PEOPLE: Final = ("髙橋　太郎", "髙橋　花子", "髙橋　一郎", "髙橋　美咲")
_PAYEES: Final = (
    ("所沢市民医療センター", "診療・治療"), ("防衛医科大学校病院", "診療・治療"),
    ("並木クリニック", "診療・治療"), ("航空公園歯科医院", "診療・治療"),
    ("ひばり薬局　所沢店", "医薬品購入"), ("ドラッグストア　新所沢駅前店", "医薬品購入"),
    ("所沢中央眼科", "診療・治療"), ("西武タクシー", "その他の医療費"),
    ("訪問看護ステーションところざわ", "介護保険サービス"), ("小手指整形外科", "診療・治療"),
)
_DONEES: Final = (
    ("北海道上士幌町", "ふるさと納税"), ("宮崎県都城市", "ふるさと納税"),
    ("山形県寒河江市", "ふるさと納税"), ("日本赤十字社", "特定寄附金"),
    ("認定特定非営利活動法人ところざわ子ども食堂", "認定NPO法人等寄附金"),
)


def _element(parent: etree._Element, tag: str, text: str | None = None,
             **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, tag, attributes)
    element.text = text
    return element


def _medical(rng: random.Random, table: etree._Element, number: int) -> None:
    payee, kind = _PAYEES[rng.randrange(len(_PAYEES))]
    row = _element(table, "明細", 番号=str(number))
    _element(row, "医療を受けた方の氏名", rng.choice(_PEOPLE))
    _element(row, "支払先の名称", payee)
    _element(row, "医療費の区分", kind)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    _element(row, "支払年月日", f"令和7年{month}月{day}日")
    paid = rng.randrange(500, 60_000, 10)
    _element(row, "支払った医療費の額", str(paid), 単位="円")
    _element(row, "補填される金額", str(paid // 3 if rng.random() < 0.1 else 0), 単位="円")


def _donation(rng: random.Random, table: etree._Element, number: int) -> None:
    donee, kind = _DONEES[rng.randrange(len(_DONEES))]
    row = _element(table, "寄附", 番号=str(number))
    _element(row, "寄附先の名称", donee)
    _element(row, "寄附金の種類", kind)
    _element(row, "寄附年月日", f"令和7年{rng.randint(1, 12)}月{rng.randint(1, 28)}日")
    _element(row, "寄附金額", str(rng.randrange(5_000, 50_000, 1000)), 単位="円")
    _element(row, "受領証明書番号", f"R7-{rng.randrange(10**7):07d}")


def large_submission(size: int = DEFAULT_SIZE, *, seed: int = 1) -> bytes:
    """The example tax return (``pki/signing/examples/tax_return.xml``) grown to at least
    ``size`` bytes: the attachments a real return carries, a medical-expense statement
    (医療費控除の明細書) and donation receipts (寄附金控除), as rows of the form.

    Deterministic for a given ``seed``; unsigned (the root ``DATA`` holds only ``CONTENTS``).
    """
    example = resources.files("pki.signing").joinpath("examples/tax_return.xml").read_bytes()
    root = etree.fromstring(example)
    form = root.find("CONTENTS/申告書")
    assert form is not None
    rng = random.Random(seed)
    medical = _element(form, "医療費控除の明細書", 年分="令和7年分")
    donations = _element(form, "寄附金控除に関する事項", 年分="令和7年分")
    number = 0
    while True:
        total = sum(int(e.text or 0) for e in medical.iter("支払った医療費の額"))
        _element(medical, "医療費の合計", str(total), 単位="円")
        etree.indent(form, space="  ", level=2)  # as the example is laid out
        document = serialise(root)
        if len(document) >= size:
            return document
        medical.remove(medical[-1])
        per_row = (len(document) - len(example)) / number if number else 1000
        for _ in range(max(1, int((size - len(document)) / per_row))):
            number += 1
            if number % 6:
                _medical(rng, medical, number)
            else:
                _donation(rng, donations, number)


# -- the instance ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignedSubmission:
    data: bytes
    certificate: x509.Certificate  # the card's signing certificate


def enrol_and_sign(services: Services, folder: Path, document: bytes) -> SignedSubmission:
    """Enrol a card at the counter for the first adult resident (``web.enrolment.enrol``: the
    card makes its keys, the CA issues both certificates) and sign ``document`` with it."""
    seal_key = secrets.card_seal_key(services.settings, create=True)
    for code in _resident_codes(services):
        enrolment = enrol(services, operator=BENCH_OPERATOR, resident_code=code,
                          identity_document="運転免許証", auth_pin=AUTH_PIN,
                          signing_password=SIGNING_PASSWORD, out=folder / f"{code}.jcard")
        if enrolment.pair.signing is None:
            continue  # under 15: no signing certificate
        certificate = enrolment.pair.signing.certificate
        with Card.open(enrolment.path, seal_key) as card:
            signed = sign_xml(document, card_signer(card, SIGNING_PASSWORD), certificate)
        return SignedSubmission(signed, certificate)
    raise BenchFailed("no adult resident to enrol in the bench population")


def _resident_codes(services: Services) -> list[str]:
    with services.sessions() as session:
        return list(session.scalars(select(Person.resident_code)))


# -- the measured operations -------------------------------------------------------------------

class _BareVerifier(Utf8Serialisation, XMLVerifier):
    """signxml's verifier; UTF-8 internal copies, else Japanese element names break."""


def bare_check(signed: SignedSubmission) -> Callable[[], None]:
    """signxml's bare signature check of the document, handed the certificate object."""
    def check() -> None:
        _BareVerifier().verify(signed.data, x509_cert=signed.certificate)

    return check


def _passed(body: bytes) -> None:
    report = json.loads(body)
    signatures = report["signatures"]
    if report["indication"] != "TOTAL_PASSED" or len(signatures) != 1:
        raise BenchFailed(f"the endpoint answered {report['indication']}: "
                          f"{[s['message'] for s in signatures]}")
    evidence = signatures[0]["revocation"]
    if not evidence or evidence[0]["cert_status"] != "good":
        raise BenchFailed("the report carries no revocation evidence")


def endpoint_check(app: Flask, signed: SignedSubmission) -> Callable[[], None]:
    """``POST /api/v1/verify`` through the Flask test client."""
    client = app.test_client()

    def check() -> None:
        response = client.post(VERIFY_URL, data=signed.data, content_type=XML_TYPE)
        if response.status_code != 200:
            raise BenchFailed(f"the endpoint answered HTTP {response.status_code}")

    _passed(client.post(VERIFY_URL, data=signed.data, content_type=XML_TYPE).get_data())
    return check


@contextmanager
def http_check(services: Services, signed: SignedSubmission) -> Iterator[Callable[[], None]]:
    """The same request over a loopback connection to ``jpki serve``'s server (no workers)."""
    from web.server import start

    running = start(services, "127.0.0.1", 0, workers=False)
    thread = threading.Thread(target=running.serve_forever, name="bench-serve", daemon=True)
    thread.start()
    connection = http.client.HTTPConnection(running.server.effective_host,
                                            running.server.effective_port, timeout=30)
    headers = {"Content-Type": XML_TYPE}

    def post() -> bytes:
        connection.request("POST", VERIFY_URL, body=signed.data, headers=headers)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise BenchFailed(f"the server answered HTTP {response.status}")
        return body

    def check() -> None:
        post()

    try:
        _passed(post())
        yield check
    finally:
        connection.close()
        running.stop()
        thread.join(5)


def _run(operation: Callable[[], None], seconds: float) -> Rate:
    """Run ``operation`` again and again for about ``seconds``."""
    count, started, cpu = 0, time.perf_counter(), time.process_time()
    while True:
        operation()
        count += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds:
            return Rate(count, elapsed, time.process_time() - cpu)


def bench_verify(*, size: int = DEFAULT_SIZE, rounds: int = 5, seconds: float = 1.0,
                 over_http: bool = True) -> VerifyBench:
    """Alternate ``rounds`` rounds of ``seconds`` each of every measured operation."""
    with scratch_instance(None, residents=RESIDENTS) as instance, ExitStack() as stack:
        services = instance.services()
        signed = enrol_and_sign(services, instance.folder, large_submission(size))
        app = create_app(services=services, test_config={"TESTING": True})
        operations = {"bare": bare_check(signed), "endpoint": endpoint_check(app, signed)}
        if over_http:
            operations["http"] = stack.enter_context(http_check(services, signed))
        for operation in operations.values():
            operation()  # warm up: the first OCSP answer is signed, caches fill
        totals = dict.fromkeys(operations, Rate(0, 0.0, 0.0))
        for _ in range(rounds):
            for name, operation in operations.items():
                totals[name] += _run(operation, seconds)
    return VerifyBench(document_bytes=len(signed.data), rounds=rounds, bare=totals["bare"],
                       endpoint=totals["endpoint"], http=totals.get("http"))
