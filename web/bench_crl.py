"""``jpki bench revocation --crl``: a CRL of a million entries, against ``openssl ca -gencrl``.

The same revoked certificates are given to both: ``entries`` rows bulk-inserted into our
revocation table (set-up, not measured) and the same entries as ``R`` lines of an openssl CA
index file. Serials are random 20-octet values like the CA's, in ascending order (openssl sorts
its entries by serial; we list them in revocation order: inserting them in serial order makes
both lists the same). Reasons: mostly ``affiliationChanged`` (basic-four changes), some
``cessationOfOperation`` (removals) and some ``keyCompromise`` with an invalidity date (the
only reason openssl's index can give one to: ``keyTime``).

Ours is the real path, ``CrlPublisher.issue`` for the signing CA's full CRL: take a CRL number,
read the rows, build, sign with the CA key from the key store, store the CRL. It runs in a
child process (``web.bench_crl_child``, a fresh interpreter as ``jpki crl publish`` would be)
so that its peak resident memory is its own; ``openssl ca -gencrl`` runs with the same CA key
and certificate. Both are timed from start to exit (for ours, ``issue`` alone is timed too) and
their peak RSS read by GNU time. Finally the revokedCertificates of both CRLs are compared
byte for byte.
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from asn1crypto import crl as asn1_crl
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import insert

from pki.profile import SERIAL_BITS, CertKind
from revocation.rules import Cause
from revocation.tables import RevocationEntry
from web.bench import BENCH_MUNICIPALITY
from web.bench_ocsp import BenchFailed, index_serial, index_time, write_index
from web.bench_revocation import BenchInstance, scratch_instance

INSERT_BATCH = 20_000
# GNU time reads the peak RSS of the command it runs. wait4 on our own child would not do: a
# child forked (or vforked) from this large process counts this process's pages as its own peak.
GNU_TIME = "/usr/bin/time"
_REASONS = (  # (share, RFC 5280 reason, our cause, openssl's index name)
    (0.80, x509.ReasonFlags.affiliation_changed, Cause.BASIC_FOUR_CHANGED, "affiliationChanged"),
    (0.15, x509.ReasonFlags.cessation_of_operation, Cause.RECORD_REMOVED,
     "cessationOfOperation"),
    (0.05, x509.ReasonFlags.key_compromise, Cause.KEY_COMPROMISE, "keyTime"),
)


@dataclass(frozen=True)
class CrlRun:
    """One CRL generation: wall time of the process, peak memory, size of the CRL."""

    tool: str
    seconds: float
    peak_rss_mib: float
    crl_bytes: int


@dataclass(frozen=True)
class CrlBench:
    backend: str
    entries: int
    ours: CrlRun
    issue_seconds: float  # ours, ``CrlPublisher.issue`` alone (read, build, sign, store)
    reference: CrlRun
    same_entries: bool  # the two revokedCertificates are byte-identical

    @property
    def ratio(self) -> float:
        """openssl's run over our CRL generation: ≥ 1 means ours is no slower."""
        return self.reference.seconds / self.issue_seconds

    @property
    def process_ratio(self) -> float:
        """The same, our whole process (interpreter start, imports, key) included."""
        return self.reference.seconds / self.ours.seconds


@dataclass(frozen=True)
class _Revoked:
    serial: int
    revoked_at: datetime
    not_after: datetime
    reason: int  # index into _REASONS
    invalidity: datetime | None


def bench_crl(*, entries: int = 1_000_000, pg_url: str | None = None,
              openssl: str | None = None, progress: Callable[[str], None] | None = None
              ) -> CrlBench:
    tool = openssl or shutil.which("openssl")
    if tool is None or not Path(GNU_TIME).is_file():
        raise BenchFailed(f"openssl and {GNU_TIME} are needed (apt-get install openssl time)")
    say = progress or (lambda _message: None)
    with scratch_instance(pg_url, residents=0) as instance, \
            tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        generation = instance.ca.current(CertKind.SIGNING)
        revoked = list(_entries(entries, instance.clock.now().replace(microsecond=0)))
        say(f"inserting {entries:,} revocations")
        _insert(instance, generation.key_id, revoked)
        write_index(folder, (_index_line(r) for r in revoked))
        _openssl_ca(instance, generation.key_label, generation.certificate, folder)
        del revoked
        say("our CRL (CrlPublisher.issue, in a child process)")
        ours, report = _run([sys.executable, "-m", "web.bench_crl_child", instance.url,
                             str(instance.folder), generation.key_id, str(folder / "ours.crl")],
                            "jpki (CrlPublisher.issue)", folder / "ours.crl", folder)
        say("openssl ca -gencrl")
        reference, _ = _run([tool, "ca", "-gencrl", "-config", str(folder / "ca.cnf"),
                             "-out", str(folder / "openssl.crl")], "openssl ca -gencrl",
                            folder / "openssl.crl", folder)
        same = _revoked_part(folder / "ours.crl") == _revoked_part(folder / "openssl.crl")
    return CrlBench(backend=instance.backend, entries=entries, ours=ours,
                    issue_seconds=float(str(report["seconds"])), reference=reference,
                    same_entries=same)


def _entries(count: int, now: datetime) -> Iterator[_Revoked]:
    """``count`` revoked certificates, in ascending serial order (seeded: the same each run)."""
    rng = random.Random(11)
    serials: set[int] = set()
    while len(serials) < count:
        serials.add((1 << (SERIAL_BITS - 1)) | rng.getrandbits(SERIAL_BITS - 1))
    for serial in sorted(serials):
        revoked_at = now - timedelta(seconds=rng.randrange(2 * 365 * 86400))
        pick, reason = rng.random(), 0
        while pick > _REASONS[reason][0] and reason < len(_REASONS) - 1:
            pick -= _REASONS[reason][0]
            reason += 1
        invalidity = (revoked_at - timedelta(days=1) if _REASONS[reason][1]
                      is x509.ReasonFlags.key_compromise else None)
        yield _Revoked(serial, revoked_at, now + timedelta(days=rng.randrange(30, 1000)),
                       reason, invalidity)


def _insert(instance: BenchInstance, key_id: str, revoked: list[_Revoked]) -> None:
    """Bulk insert (set-up only: revocations normally come one notice at a time)."""
    for start in range(0, len(revoked), INSERT_BATCH):
        rows = [{"issuer_key_id": key_id, "serial": str(r.serial), "kind": "sign",
                 "resident_code": None, "card_id": None, "partition": BENCH_MUNICIPALITY,
                 "not_after": r.not_after, "reason": _REASONS[r.reason][1].value,
                 "cause": _REASONS[r.reason][2].value, "cause_ref": "bench",
                 "operator": None, "revoked_at": r.revoked_at,
                 "invalidity_date": r.invalidity}
                for r in revoked[start:start + INSERT_BATCH]]
        with instance.sessions() as session, session.begin():
            session.connection().execute(insert(RevocationEntry), rows)


def _index_line(r: _Revoked) -> str:
    revocation = f"{index_time(r.revoked_at)},{_REASONS[r.reason][3]}"
    if r.invalidity is not None:  # keyTime,<GeneralizedTime>
        revocation += f",{r.invalidity.strftime('%Y%m%d%H%M%SZ')}"
    return (f"R\t{index_time(r.not_after)}\t{revocation}\t{index_serial(r.serial)}\t"
            f"unknown\t/CN={r.serial}\n")


def _openssl_ca(instance: BenchInstance, key_label: str, certificate: x509.Certificate,
                folder: Path) -> None:
    """An openssl CA over the same key (a scratch CA's, deleted with the folder): CRL number
    and AKI as ours, next update in 24 hours."""
    (folder / "ca.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key = os.open(folder / "ca.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(key, "wb") as out:
        out.write(instance.keys.signer(key_label).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    (folder / "crlnumber").write_text("01\n")
    (folder / "ca.cnf").write_text(f"""[ ca ]
default_ca = bench
[ bench ]
database = {folder / "index.txt"}
certificate = {folder / "ca.pem"}
private_key = {folder / "ca.key"}
crlnumber = {folder / "crlnumber"}
default_md = sha256
default_crl_hours = 24
crl_extensions = crl_ext
[ crl_ext ]
authorityKeyIdentifier = keyid:always
""")


def _run(command: list[str], tool: str, output: Path, folder: Path
         ) -> tuple[CrlRun, dict[str, object]]:
    """Run to completion; wall time, peak RSS, the CRL's size, and what it printed (JSON)."""
    rss = folder / "rss.txt"
    started = time.perf_counter()
    done = subprocess.run([GNU_TIME, "-f", "%M", "-o", str(rss), *command], capture_output=True,
                          cwd=Path(__file__).resolve().parent.parent)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchFailed(f"{tool} failed: {done.stderr.decode(errors='replace')[-500:]}")
    report = json.loads(done.stdout) if done.stdout.strip().startswith(b"{") else {}
    peak_kib = int(rss.read_text().split()[-1])
    return CrlRun(tool, seconds, peak_kib / 1024, len(_der(output))), report


def _der(path: Path) -> bytes:
    data = path.read_bytes()
    if data.startswith(b"-----BEGIN"):
        body = b"".join(line for line in data.splitlines() if not line.startswith(b"-----"))
        return base64.b64decode(body)
    return data


def _revoked_part(path: Path) -> bytes:
    """The revokedCertificates element of a CRL, as encoded."""
    tbs = asn1_crl.CertificateList.load(_der(path))["tbs_cert_list"]
    return bytes(tbs["revoked_certificates"].dump())
