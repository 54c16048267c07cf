"""``jpki bench revocation``: from a change committed at the counter to OCSP answering revoked.

On a scratch database (file key store, SQLite or PostgreSQL): a population, both CAs, and
``holders`` signing certificates issued for real residents (card keys stand in for cards, which
do not matter here). Then, with the tier workers and the revocation worker running as threads,
as in ``jpki serve``, each holder relocates at the counter in turn; the time is measured from the
commit until our OCSP responder, asked over its request/response interface, says ``revoked``.
The reference is the same OCSP request answered for a live certificate (the cost of asking).
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from sqlalchemy import select

from ca.authority import CertificateAuthority
from ca.enrolment import Holder, issue_pair
from ca.keystore import FileKeyStore
from jukibridge import municipalities, operators, population, workers
from jukibridge.change_requests import Relocation
from jukibridge.records import Role
from jukibridge.register import Register
from jukibridge.tables import Person
from web.bench import BENCH_MUNICIPALITY, BENCH_OPERATOR, scratch_database
from web.clock import SystemClock
from web.database import make_engine, make_sessions, migrate
from web.revocation_wiring import RevocationSide

POLL = 0.002


@dataclass(frozen=True)
class RevocationBench:
    backend: str
    holders: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    ask_p50_ms: float


def _request(cert: x509.Certificate, issuer: x509.Certificate) -> bytes:
    return (ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
            .public_bytes(Encoding.DER))


def bench_revocation(*, holders: int = 50, pg_url: str | None = None) -> RevocationBench:
    clock = SystemClock()
    with scratch_database(pg_url) as url, tempfile.TemporaryDirectory() as folder:
        engine = make_engine(url)
        migrate(engine)
        sessions = make_sessions(engine)
        with sessions() as session, session.begin():
            municipalities.load_table(session)
            municipalities.open_register(session, clock, BENCH_MUNICIPALITY)
            operators.add_operator(session, clock, login=BENCH_OPERATOR,
                                   password="bench-password-not-secret", role=Role.CLERK,
                                   municipality_code=BENCH_MUNICIPALITY)
        population.generate(sessions, clock, BENCH_MUNICIPALITY, 2000, seed=1)
        keys = FileKeyStore(Path(folder) / "ca-keys", b"bench passphrase, not a secret")
        ca = CertificateAuthority(sessions, clock, keys, "http://127.0.0.1:8000")
        ca.init()
        register = Register(sessions, clock, BENCH_MUNICIPALITY)
        with sessions() as session:
            codes = list(session.scalars(select(Person.resident_code).limit(holders * 3)))
        card_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
        issued = []
        for code in codes:
            record = register.record(code, operator=BENCH_OPERATOR)
            holder = Holder(resident_code=code, name=record.name, sex=int(record.sex),
                            birth_date=record.birth_date, address=record.address,
                            municipality_code=BENCH_MUNICIPALITY, prefecture="埼玉県",
                            municipality="所沢市", active=True)
            pair = issue_pair(ca, holder, card_id=f"bench-{code}", signing_key=card_key,
                              auth_key=card_key, issued_at=clock.now())
            if pair.signing is not None:
                issued.append((code, pair.signing))
            if len(issued) == holders:
                break
        side = RevocationSide.build(ca, keys, sessions, clock, ca.base_url)
        workers.drain(sessions, clock)
        side.run_once()
        threads = workers.TierThreads(sessions, clock, interval=0.01)
        threads.start()
        stop = False

        def revocation_loop() -> None:
            while not stop:
                if not side.run_once():
                    time.sleep(0.01)

        revoker = threading.Thread(target=revocation_loop, daemon=True)
        revoker.start()
        asks, latencies = [], []
        for index, (code, signing) in enumerate(issued):
            request = _request(signing.certificate, signing.issuer.certificate)
            started = time.perf_counter()
            good = ocsp.load_der_ocsp_response(side.ocsp.respond(request))
            asks.append(time.perf_counter() - started)
            assert good.certificate_status == ocsp.OCSPCertStatus.GOOD
            register.perform(BENCH_OPERATOR, Relocation(resident_codes=[code],
                                                        address=f"東町{index + 1}番1号"))
            committed = time.perf_counter()
            while True:
                answer = ocsp.load_der_ocsp_response(side.ocsp.respond(request))
                if answer.certificate_status == ocsp.OCSPCertStatus.REVOKED:
                    break
                time.sleep(POLL)
            latencies.append(time.perf_counter() - committed)
        stop = True
        threads.stop()
        revoker.join(5)
        engine.dispose()
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")  # small samples
    return RevocationBench(backend="postgresql" if pg_url else "sqlite", holders=len(issued),
                           p50_ms=cuts[49] * 1000, p99_ms=cuts[98] * 1000,
                           max_ms=max(latencies) * 1000,
                           ask_p50_ms=statistics.median(asks) * 1000)
