"""The child process of ``jpki bench revocation --crl`` (see ``web.bench_crl``).

``python -m web.bench_crl_child URL HOME KEY_ID OUT``: the full CRL of CA generation KEY_ID,
issued by ``CrlPublisher.issue`` from the revocation table of the database at URL (the bench's
key store under HOME), written to OUT; prints how long ``issue`` took, as JSON. It imports only
what a CRL publisher needs, so that its peak memory is that of CRL generation.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ca.authority import CertificateAuthority
from ca.keystore import FileKeyStore
from revocation.crl import FULL, CrlPublisher
from web.clock import SystemClock
from web.database import make_engine, make_sessions
from web.revocation_wiring import CaDirectory, CaSigners

BENCH_PASSPHRASE = b"bench passphrase, not a secret"  # as web.bench_revocation's scratch CA


def main(argv: list[str]) -> None:
    url, home, key_id, out = argv
    clock = SystemClock()
    engine = make_engine(url)
    sessions = make_sessions(engine)
    keys = FileKeyStore(Path(home) / "ca-keys", BENCH_PASSPHRASE)
    ca = CertificateAuthority(sessions, clock, keys, "http://127.0.0.1:8000")
    publisher = CrlPublisher(sessions, clock, CaDirectory(ca, sessions),
                             CaSigners(ca, keys, sessions, clock), ca.base_url)
    keys.signer(ca.by_key_id(key_id).key_label)  # loaded once per process, as in a server
    started = time.perf_counter()
    published = publisher.issue(key_id, FULL)
    seconds = time.perf_counter() - started
    Path(out).write_bytes(published.der)
    engine.dispose()
    json.dump({"seconds": seconds, "entries": published.entries}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1:])
