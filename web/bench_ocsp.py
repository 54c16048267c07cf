"""``jpki bench revocation --ocsp``: OCSP throughput and latency against ``openssl ocsp``.

Both responders answer the same certificates in the same run. Ours is the responder's own
front (``web.ocsp_server``: uvicorn, what ``jpki ocsp serve`` and ``jpki serve --ocsp-port``
run) on a scratch instance whose signing CA issued ``holders``
certificates through ``CertificateAuthority`` (lint, store, sign), a share of them revoked
through the revocation service, the rest pre-signed (``OcspResponder.presign_issuer``). The
reference is ``openssl ocsp -index``, single-threaded, with the same responder certificate and
key, over an index file listing the same certificates with the same status. The load is the
same file of pre-built requests (a seeded random sample of the certificates), sent by the same
client process (``web.ocsp_load``) from ``connections`` threads. Before each load, every
certificate is asked once and both answers are checked against the expected status.

A third row is the same responder behind ``jpki serve``'s ``/ocsp`` (waitress, the Flask
application's server, with its WSGI fast path), to show what the front buys.

With ``nonce``, every request carries its own nonce (RFC 8954): no answer can come from a
cache, so ours signs each one as openssl always does. The machine is shared and noisy: each
server is measured ``rounds`` times, alternately, and the round of median throughput is kept.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import ocsp

from ca.authority import Issued
from pki.profile import CertKind
from revocation.rules import Cause
from revocation.service import CertRef
from web.bench_revocation import BenchInstance, issue_holders, ocsp_request, scratch_instance
from web.ocsp_load import decode_bodies, write_bodies
from web.revocation_wiring import CaSigners
from web.services import Services

OURS = "jpki ocsp serve (uvicorn)"
WAITRESS = "jpki serve /ocsp (waitress)"
REFERENCE = "openssl ocsp"


class BenchFailed(Exception):
    """A responder answered wrongly or a tool failed: no figure is reported."""


@dataclass(frozen=True)
class LoadFigures:
    """One server under load (the round of median throughput)."""

    server: str
    requests: int
    per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    connections: int  # TCP connections the clients opened
    server_cpu_us: float  # CPU per answer: the server's process
    client_cpu_us: float  # and the load generator's


@dataclass(frozen=True)
class OcspBench:
    backend: str
    certificates: int
    revoked: int
    connections: int
    rounds: int
    nonce: bool
    ours: LoadFigures
    reference: LoadFigures
    waitress: LoadFigures

    @property
    def ratio(self) -> float:
        return self.ours.per_second / self.reference.per_second


@dataclass(frozen=True)
class _Population:
    """The signing certificates asked about, and their expected status."""

    issuer: x509.Certificate
    certificates: list[x509.Certificate]
    revoked: dict[int, datetime]  # serial → revocation time


def bench_ocsp(*, holders: int = 300, requests: int = 20_000, connections: int = 16,
               rounds: int = 3, revoked_share: float = 0.1, nonce: Iterable[bool] = (False,),
               pg_url: str | None = None, openssl: str | None = None,
               progress: Callable[[str], None] | None = None) -> list[OcspBench]:
    """Measure the servers on one scratch instance; one result per ``nonce`` setting."""
    tool = openssl or shutil.which("openssl")
    if tool is None or shutil.which("unshare") is None:
        raise BenchFailed("openssl and unshare are needed (apt-get install openssl util-linux)")
    say = progress or (lambda _message: None)
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" lines
    with scratch_instance(pg_url, residents=holders * 4 + 50) as instance, \
            tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        say(f"issuing {holders} holders' certificates")
        issued = issue_holders(instance, holders)
        services = instance.services()
        population = _revoke_and_presign(services, issued, revoked_share)
        _reference_files(instance, population, folder)
        rng = random.Random(5)
        sample = rng.choices(population.certificates, k=requests)
        write_bodies(folder / "check.b64",
                     [ocsp_request(c, population.issuer) for c in population.certificates])
        results = []
        for with_nonce in nonce:
            write_bodies(folder / "requests.b64", [
                ocsp_request(c, population.issuer,
                             nonce=rng.randbytes(16) if with_nonce else None) for c in sample])
            runs: dict[str, list[LoadFigures]] = {OURS: [], REFERENCE: [], WAITRESS: []}
            for round_ in range(1, rounds + 1):
                label = f"round {round_}/{rounds}, {requests} requests" + (
                    " with nonces" if with_nonce else "")
                say(f"{OURS}: {label}")
                runs[OURS].append(_ours(services, folder, connections, population))
                say(f"{REFERENCE}: {label}")
                runs[REFERENCE].append(_openssl(tool, folder, connections, population))
                say(f"{WAITRESS}: {label}")
                runs[WAITRESS].append(_waitress(services, folder, connections, population))
            results.append(OcspBench(
                backend=instance.backend, certificates=len(population.certificates),
                revoked=len(population.revoked), connections=connections, rounds=rounds,
                nonce=with_nonce, ours=_median(runs[OURS]), reference=_median(runs[REFERENCE]),
                waitress=_median(runs[WAITRESS])))
        return results


def _median(runs: list[LoadFigures]) -> LoadFigures:
    return sorted(runs, key=lambda r: r.per_second)[len(runs) // 2]


def _revoke_and_presign(services: Services, issued: Sequence[tuple[str, Issued]],
                        revoked_share: float) -> _Population:
    """Revoke the first share (a basic-four change: ``affiliationChanged``), pre-sign the rest."""
    side = services.revocation
    revoked = {}
    for _code, signing in issued[:round(len(issued) * revoked_share)]:
        outcome = side.service.revoke(CertRef(signing.issuer.key_id, signing.serial),
                                      Cause.BASIC_FOUR_CHANGED)
        revoked[signing.serial] = outcome.revocation.revoked_at.replace(microsecond=0)
    issuer = issued[0][1].issuer
    side.ocsp.presign_issuer(issuer.key_id)
    return _Population(issuer.certificate, [s.certificate for _c, s in issued], revoked)


def _reference_files(instance: BenchInstance, population: _Population, folder: Path) -> None:
    """What ``openssl ocsp`` needs: our CA certificate, our delegated responder's certificate
    and key (a scratch CA's, deleted with the folder), an index of the same certificates."""
    generation = instance.ca.current(CertKind.SIGNING)
    responder = CaSigners(instance.ca, instance.keys, instance.sessions,
                          instance.clock).responder(generation.key_id)
    assert responder is not None
    (folder / "ca.pem").write_bytes(generation.certificate.public_bytes(
        serialization.Encoding.PEM))
    (folder / "rsigner.pem").write_bytes(responder.certificate.public_bytes(
        serialization.Encoding.PEM))
    key = os.open(folder / "rkey.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(key, "wb") as out:
        out.write(responder.signer.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    lines = []
    for cert in population.certificates:
        revoked_at = population.revoked.get(cert.serial_number)
        status = "V" if revoked_at is None else "R"
        revocation = "" if revoked_at is None else f"{index_time(revoked_at)},affiliationChanged"
        lines.append(f"{status}\t{index_time(cert.not_valid_after_utc)}\t{revocation}\t"
                     f"{index_serial(cert.serial_number)}\tunknown\t/CN={cert.serial_number}\n")
    write_index(folder, lines)


def index_time(at: datetime) -> str:
    """A time as openssl's index file has it (UTCTime digits)."""
    return at.strftime("%y%m%d%H%M%SZ")


def index_serial(serial: int) -> str:
    """A serial as openssl's index file has it (``BN_bn2hex``: upper case, whole octets)."""
    digits = f"{serial:X}"
    return "0" + digits if len(digits) % 2 else digits


def write_index(folder: Path, lines: Iterable[str]) -> Path:
    """``index.txt`` (and its ``.attr``: subjects need not be unique) in ``folder``."""
    (folder / "index.txt.attr").write_text("unique_subject = no\n")
    path = folder / "index.txt"
    with path.open("w") as out:
        out.writelines(lines)
    return path


# -- the servers ------------------------------------------------------------------------------


def _ours(services: Services, folder: Path, connections: int, population: _Population
          ) -> LoadFigures:
    """The responder's own front, as ``jpki ocsp serve`` runs it."""
    from web.ocsp_server import bind

    front = bind(services.revocation.ocsp, "127.0.0.1", 0)
    return _in_process(OURS, front.port, front.serve_forever, front.stop, folder, connections,
                       population)


def _waitress(services: Services, folder: Path, connections: int, population: _Population
              ) -> LoadFigures:
    """``jpki serve``'s ``/ocsp``: waitress and the Flask application's OCSP fast path."""
    from web.server import start

    running = start(services, "127.0.0.1", 0, workers=False)
    return _in_process(WAITRESS, running.server.effective_port, running.serve_forever,
                       running.stop, folder, connections, population)


def _in_process(name: str, port: int, serve: Callable[[], None], stop: Callable[[], None],
                folder: Path, connections: int, population: _Population
                ) -> LoadFigures:
    """Load a server running in this process; its CPU time is this process's."""
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = [sys.executable, "-m", "web.ocsp_load", "--connections", str(connections)]
    where = ["http", "--port", str(port)]
    try:
        checked = _load([*client, "--check", str(folder / "check.b64"), *where])["checked"]
        assert isinstance(checked, list)
        _check_answers(name, decode_bodies(checked), population)
        cpu = time.process_time()
        load = _load([*client, "--requests", str(folder / "requests.b64"), *where])["load"]
        assert isinstance(load, dict)
        load["server_cpu"] = time.process_time() - cpu
    finally:
        stop()
        thread.join(5)
    return _figures(name, load)


def _openssl(tool: str, folder: Path, connections: int, population: _Population
             ) -> LoadFigures:
    """``openssl ocsp`` and the client in a private network namespace (DESIGN.md §8)."""
    report = _load(["unshare", "-n", "--", sys.executable, "-m", "web.ocsp_load",
                    "--connections", str(connections), "--check", str(folder / "check.b64"),
                    "--requests", str(folder / "requests.b64"), "openssl", "--openssl", tool,
                    "--index", str(folder / "index.txt"), "--ca", str(folder / "ca.pem"),
                    "--rsigner", str(folder / "rsigner.pem"),
                    "--rkey", str(folder / "rkey.pem")])
    checked, load = report["checked"], report["load"]
    assert isinstance(checked, list) and isinstance(load, dict)
    _check_answers(REFERENCE, decode_bodies(checked), population)
    return _figures(REFERENCE, load)


def _load(command: list[str]) -> dict[str, object]:
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600,
                          cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise BenchFailed(f"{' '.join(command[:5])} … failed: {done.stderr.strip()[-500:]}")
    report: dict[str, object] = json.loads(done.stdout)
    return report


def _figures(name: str, load: dict[str, Any]) -> LoadFigures:
    latencies: list[float] = load["latencies"]
    requests: int = load["requests"]
    return LoadFigures(server=name, requests=requests, per_second=requests / load["seconds"],
                       p50_ms=percentile_ms(latencies, 50), p99_ms=percentile_ms(latencies, 99),
                       max_ms=max(latencies) * 1000, errors=load["errors"],
                       connections=load["connections"],
                       server_cpu_us=load["server_cpu"] / requests * 1e6,
                       client_cpu_us=load["client_cpu"] / requests * 1e6)


def percentile_ms(seconds: Sequence[float], pct: int) -> float:
    """The ``pct``-th percentile of durations in seconds, in milliseconds."""
    return statistics.quantiles(seconds, n=100, method="inclusive")[pct - 1] * 1000


def _check_answers(name: str, answers: Sequence[bytes], population: _Population) -> None:
    """Every certificate's answer says what it should: good, or revoked at its time."""
    for cert, der in zip(population.certificates, answers, strict=True):
        answer = ocsp.load_der_ocsp_response(der)
        if answer.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise BenchFailed(f"{name}: {answer.response_status.name} for {cert.serial_number}")
        revoked_at = population.revoked.get(cert.serial_number)
        expected = (ocsp.OCSPCertStatus.GOOD if revoked_at is None
                    else ocsp.OCSPCertStatus.REVOKED)
        if answer.serial_number != cert.serial_number or answer.certificate_status != expected:
            raise BenchFailed(f"{name}: {answer.certificate_status.name} for "
                              f"{cert.serial_number}, expected {expected.name}")
        if revoked_at is not None and (answer.revocation_time_utc != revoked_at or
                                       answer.revocation_reason
                                       != x509.ReasonFlags.affiliation_changed):
            raise BenchFailed(f"{name}: wrong revocation time or reason for "
                              f"{cert.serial_number}")
