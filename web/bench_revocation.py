"""``jpki bench revocation``: from a change committed at the counter to OCSP answering revoked.

On a scratch database (file key store, SQLite or PostgreSQL): a population, both CAs, and
``holders`` signing certificates issued for real residents (card keys stand in for cards, which
do not matter here). Then, with the tier workers and the revocation worker running as threads,
as in ``jpki serve``, each holder relocates at the counter in turn; the time is measured from the
commit until our OCSP responder, asked over its request/response interface, says ``revoked``.
The reference is the cost of asking: the same request for the live certificate, answered the
first time (signed and stored on the spot) and then from the pre-signed cache.

The scratch instance and the issued holders are shared with the throughput and CRL benchmarks
(``web.bench_ocsp``, ``web.bench_crl``).
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from ca.authority import CertificateAuthority, Issued
from ca.enrolment import Holder, issue_pair
from ca.keystore import FileKeyStore
from jukibridge import population, workers
from jukibridge.change_requests import Relocation
from jukibridge.register import Register
from jukibridge.tables import Person
from pki.clock import Clock
from web.bench import BENCH_MUNICIPALITY, BENCH_OPERATOR, open_bench_register, scratch_database
from web.clock import SystemClock
from web.config import Settings
from web.database import make_engine, make_sessions, migrate
from web.revocation_wiring import RevocationSide
from web.services import Services

POLL = 0.002
BENCH_PASSPHRASE = b"bench passphrase, not a secret"
POPULATION = 2000


@dataclass(frozen=True)
class RevocationBench:
    backend: str
    holders: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    first_p50_ms: float  # one answer not yet pre-signed: signed and stored on the spot
    ask_p50_ms: float  # one answer from the pre-signed cache


@dataclass
class BenchInstance:
    """A scratch instance: database with a population, both CAs in a file key store."""

    backend: str
    url: str
    folder: Path
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    keys: FileKeyStore
    ca: CertificateAuthority
    register: Register

    def services(self) -> Services:
        """The ``Services`` a server of this instance runs on (the same CA and keys)."""
        return Services(settings=Settings(home=self.folder, database_url=self.url),
                        engine=self.engine, sessions=self.sessions, clock=self.clock,
                        _ca=self.ca, _keys=self.keys)


@contextmanager
def scratch_instance(pg_url: str | None, *, residents: int = POPULATION
                     ) -> Iterator[BenchInstance]:
    """A fresh database (SQLite file, or a new database on ``pg_url``) with ``residents``
    residents of the bench municipality and both CAs; removed afterwards."""
    clock = SystemClock()
    with scratch_database(pg_url) as url, tempfile.TemporaryDirectory() as folder:
        engine = make_engine(url)
        try:
            migrate(engine)
            sessions = make_sessions(engine)
            open_bench_register(sessions, clock)
            if residents:
                population.generate(sessions, clock, BENCH_MUNICIPALITY, residents, seed=1)
            keys = FileKeyStore(Path(folder) / "ca-keys", BENCH_PASSPHRASE)
            ca = CertificateAuthority(sessions, clock, keys, "http://127.0.0.1:8000")
            ca.init()
            yield BenchInstance(backend="postgresql" if pg_url else "sqlite", url=url,
                                folder=Path(folder), engine=engine, sessions=sessions,
                                clock=clock, keys=keys, ca=ca,
                                register=Register(sessions, clock, BENCH_MUNICIPALITY))
        finally:
            engine.dispose()


def issue_holders(instance: BenchInstance, holders: int,
                  progress: Callable[[int], None] | None = None) -> list[tuple[str, Issued]]:
    """Issue both certificates through the CA (``issue_pair``: lint, store, sign) for the first
    ``holders`` adult residents; returns (resident code, signing certificate) pairs.

    One card key pair serves every holder: key generation is not what is measured.
    """
    with instance.sessions() as session:
        codes = list(session.scalars(select(Person.resident_code).limit(holders * 3)))
    card_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    issued: list[tuple[str, Issued]] = []
    for code in codes:
        record = instance.register.record(code, operator=BENCH_OPERATOR)
        holder = Holder(resident_code=code, name=record.name, sex=int(record.sex),
                        birth_date=record.birth_date, address=record.address,
                        municipality_code=BENCH_MUNICIPALITY, prefecture="埼玉県",
                        municipality="所沢市", active=True)
        pair = issue_pair(instance.ca, holder, card_id=f"bench-{code}", signing_key=card_key,
                          auth_key=card_key, issued_at=instance.clock.now())
        if pair.signing is not None:
            issued.append((code, pair.signing))
            if progress is not None:
                progress(len(issued))
        if len(issued) == holders:
            break
    return issued


def ocsp_request(cert: x509.Certificate, issuer: x509.Certificate, *,
                 nonce: bytes | None = None) -> bytes:
    """A one-certificate OCSP request (SHA-1 CertID, as RFC 5019 clients send), DER."""
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(Encoding.DER)


def bench_revocation(*, holders: int = 50, pg_url: str | None = None) -> RevocationBench:
    with scratch_instance(pg_url) as instance:
        issued = issue_holders(instance, holders)
        sessions, clock = instance.sessions, instance.clock
        side = RevocationSide.build(instance.ca, instance.keys, sessions, clock,
                                    instance.ca.base_url)
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
        firsts: list[float] = []
        asks: list[float] = []
        latencies: list[float] = []
        for index, (code, signing) in enumerate(issued):
            request = ocsp_request(signing.certificate, signing.issuer.certificate)
            started = time.perf_counter()
            side.ocsp.respond(request)  # not yet pre-signed: signs and stores the answer
            firsts.append(time.perf_counter() - started)
            started = time.perf_counter()
            good = ocsp.load_der_ocsp_response(side.ocsp.respond(request))  # from the cache
            asks.append(time.perf_counter() - started)
            assert good.certificate_status == ocsp.OCSPCertStatus.GOOD
            instance.register.perform(BENCH_OPERATOR, Relocation(
                resident_codes=[code], address=f"東町{index + 1}番1号"))
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
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")  # small samples
    return RevocationBench(backend=instance.backend, holders=len(issued),
                           p50_ms=cuts[49] * 1000, p99_ms=cuts[98] * 1000,
                           max_ms=max(latencies) * 1000,
                           first_p50_ms=statistics.median(firsts) * 1000,
                           ask_p50_ms=statistics.median(asks) * 1000)
