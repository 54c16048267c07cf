"""The revocation worker as a real process (``jpki worker revocation``), killed with SIGKILL
mid-feed again and again: each certificate is revoked exactly once, nothing is lost, and OCSP
answers ``revoked`` (with the reason) for every one of them in the end."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ReasonFlags, ocsp
from sqlalchemy import func, select

from jukibridge import workers
from jukibridge.change_requests import Relocation
from jukibridge.register import Register
from jukibridge.tier_tables import RevocationNoticeRow
from pki.clock import FrozenClock
from revocation.tables import RevocationEntry
from tests.storage.conftest import AUTH_PIN, SIGNING_PASSWORD
from tests.storage.helpers import arrive
from web.config import load_settings
from web.enrolment import enrol
from web.services import Services

WORKER = "from web.cli import main; main()"
HOLDERS = 24


def _start(home: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "JPKI_HOME": str(home)}  # the database and CA passphrase are inherited
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, "worker", "revocation", "--batch", "1", "--interval",
         "0.001"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_a_killed_revocation_worker_revokes_each_certificate_exactly_once(
        card_instance: Path, register: Register, clock: FrozenClock) -> None:
    services = Services.build(load_settings(), clock=clock)
    try:
        signing: dict[int, x509.Certificate] = {}
        for i in range(HOLDERS):
            code = arrive(register, name=f"失効　{i}郎", kana="シッコウ　タロウ")
            card = enrol(services, operator="clerk", resident_code=code,
                         identity_document="運転免許証", auth_pin=AUTH_PIN,
                         signing_password=SIGNING_PASSWORD,
                         out=card_instance / "cards" / f"{code}.jcard")
            assert card.pair.signing is not None
            signing[card.pair.signing.serial] = card.pair.signing.certificate
            register.perform("clerk", Relocation(resident_codes=[code],
                                                 address=f"東町{i + 1}番8号"))
        workers.drain(services.sessions, clock)
        with services.sessions() as session:
            assert session.scalar(select(func.count()).select_from(RevocationNoticeRow)) == (
                HOLDERS)

        rng = random.Random(11)
        mid_way = 0
        for _ in range(HOLDERS):
            before = _revoked(services)
            worker = _start(card_instance / "instance")
            deadline = time.monotonic() + 60
            while _revoked(services) == before and time.monotonic() < deadline:
                time.sleep(0.01)  # wait for this life's first revocation (a readiness wait)
            time.sleep(rng.uniform(0.0, 0.15))  # then a little more work, then the kill
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            done = _revoked(services)
            assert done > before, "the worker made no progress in a minute"
            mid_way += 0 < done < HOLDERS
            if done == HOLDERS:
                break
        assert mid_way >= 1, "the worker was killed with work half done"

        services.revocation.run_once()  # a last, clean run finishes the feed
        with services.sessions() as session:
            rows = list(session.scalars(select(RevocationEntry)))
        assert Counter(int(r.serial) for r in rows) == Counter(list(signing))  # once each
        assert {r.reason for r in rows} == {ReasonFlags.affiliation_changed.value}
        assert services.revocation.consumer.position() == HOLDERS
        issuer = services.ca.by_key_id(rows[0].issuer_key_id).certificate
        for certificate in signing.values():
            request = ocsp.OCSPRequestBuilder().add_certificate(
                certificate, issuer, hashes.SHA1()).build()
            answer = ocsp.load_der_ocsp_response(services.revocation.ocsp.respond(
                request.public_bytes(Encoding.DER)))
            assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
            assert answer.revocation_reason is ReasonFlags.affiliation_changed
    finally:
        services.close()


def _revoked(services: Services) -> int:
    with services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(RevocationEntry)) or 0)
