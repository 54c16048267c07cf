"""``jpki bench issuance``: certificates per second against the raw RSA signing rate.

All on one thread (one core), on a scratch SQLite database with a file key store, in rounds
(medians reported: these machines are noisy, and each round's rates are compared with the raw
rate of the same round):

- **raw**: RSA-2048 PKCS#1 v1.5 signatures per second with a CA key (the reference);
- **signing path**: ``pki.profile.sign`` of prepared certificate builders (build + sign);
- **issuance**: ``ca.enrolment.issue_pair`` for a different resident and two new card keys each
  time — lint (pkilint and the profile checks, on a throwaway-signed copy), the pair's intended
  certificates committed, the real signatures, the issued certificates committed; card key
  generation excluded;
- **enrolments per minute**: complete enrolments including the card's two key generations.
"""

from __future__ import annotations

import secrets
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from ca.authority import CertificateAuthority
from ca.enrolment import Holder, basic_four_of, issue_pair
from ca.keystore import FileKeyStore
from jukibridge.codes import mod11_check_digit
from pki import profile
from pki.card import VirtualCard
from pki.clock import FrozenClock
from pki.eras import PartialDate
from pki.profile import CertKind
from web.bench import scratch_database
from web.database import make_engine, make_sessions, migrate

DER = Encoding.DER


@dataclass(frozen=True)
class IssuanceBench:
    """Medians over the rounds; each round measures raw, signing path and issuance in turn."""

    raw_per_second: float
    signing_path_per_second: float
    issued_per_second: float
    enrolments_per_minute: float
    signing_ratio: float  # median of the rounds' signing path / raw
    issued_ratio: float  # median of the rounds' issued / raw
    issued_per_round: tuple[float, ...]


HOLDER = Holder(resident_code="24727059608", name="山田　花子", sex=2,
                birth_date=PartialDate.parse("1990-05-03"), address="埼玉県所沢市並木三丁目1番1号",
                municipality_code="112089", prefecture="埼玉県", municipality="所沢市",
                active=True)
_FAMILY = ("山田", "佐藤", "鈴木", "髙橋", "田中", "伊藤", "渡邉", "中村", "小林", "加藤")
_GIVEN = ("花子", "太郎", "一郎", "美咲", "健", "陽菜", "翔", "結衣", "大輔", "さくら")


def holder(i: int) -> Holder:
    """The ``i``-th resident of the bench: every one with other basic four and resident code
    (a CA's certificates share no subject alternative name)."""
    body = f"{2472705960 + i:010d}"[-10:]
    return replace(
        HOLDER, resident_code=body + str(mod11_check_digit(body)),
        name=f"{_FAMILY[i % 10]}\u3000{_GIVEN[i // 10 % 10]}", sex=1 + i % 2,
        birth_date=PartialDate.parse(f"{1940 + i % 60}-{1 + i % 12:02d}-{1 + i % 28:02d}"),
        address=f"埼玉県所沢市並木{1 + i % 8}丁目{1 + i // 8 % 30}番{1 + i % 20}号")


def bench_issuance(*, certificates: int = 400, enrolments: int = 10, rounds: int = 5,
                   raw_seconds: float = 0.5) -> IssuanceBench:
    """``rounds`` rounds of: raw signatures for ``raw_seconds``, ``certificates`` signing-path
    certificates, ``certificates`` issued (half as many pairs); then ``enrolments``."""
    clock = FrozenClock(datetime(2026, 4, 1, 1, 0, tzinfo=UTC))
    with scratch_database(None) as url, tempfile.TemporaryDirectory() as folder:
        engine = make_engine(url)
        migrate(engine)
        sessions = make_sessions(engine)
        keys = FileKeyStore(Path(folder) / "ca-keys", b"bench passphrase, not a secret")
        ca = CertificateAuthority(sessions, clock, keys, "http://127.0.0.1:8000")
        ca.init()
        signer = keys.signer(ca.current(CertKind.SIGNING).key_label)
        card_keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
                     for _ in range(8)]  # the signing path's
        raws, paths, issued = [], [], []
        residents = 0
        for _ in range(rounds):
            raws.append(_raw_rate(signer, raw_seconds))
            paths.append(_signing_path_rate(ca, signer, card_keys, certificates, clock))
            pairs = certificates // 2
            inputs = [(holder(i), f"bench-{i}", card_key(), card_key())  # prepared, not timed
                      for i in range(residents, residents + pairs)]
            started = time.perf_counter()
            for resident, card_id, signing_key, auth_key in inputs:
                issue_pair(ca, resident, card_id=card_id, signing_key=signing_key,
                           auth_key=auth_key, issued_at=clock.now())
            issued.append(2 * pairs / (time.perf_counter() - started))
            residents += pairs
        per_minute = _enrolments_per_minute(ca, Path(folder), enrolments, residents, clock)
        engine.dispose()
    return IssuanceBench(
        raw_per_second=statistics.median(raws), signing_path_per_second=statistics.median(paths),
        issued_per_second=statistics.median(issued), enrolments_per_minute=per_minute,
        signing_ratio=statistics.median(p / r for p, r in zip(paths, raws, strict=True)),
        issued_ratio=statistics.median(i / r for i, r in zip(issued, raws, strict=True)),
        issued_per_round=tuple(issued))


def card_key() -> rsa.RSAPublicKey:
    """Another card's public key: an RSA-2048 modulus of random bits (no private key).

    The CA only certifies public keys, so a made-up modulus costs the issuance what a card's
    key would, and every certificate gets its own key (no two share a key or key identifier),
    without the card's key generation the bench leaves out.
    """
    modulus = secrets.randbits(2048) | (3 << 2046) | 1  # 2,048 bits, odd
    return rsa.RSAPublicNumbers(65537, modulus).public_key()


def _raw_rate(signer: rsa.RSAPrivateKey, seconds: float) -> float:
    """RSA-2048 PKCS#1 v1.5 signatures per second with the CA key."""
    digest = b"\x00" * 32
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        signer.sign(digest, padding.PKCS1v15(), hashes.SHA256())
        count += 1
    return count / (time.perf_counter() - started)


def _signing_path_rate(ca: CertificateAuthority, signer: rsa.RSAPrivateKey,
                       card_keys: list[rsa.RSAPublicKey], certificates: int,
                       clock: FrozenClock) -> float:
    """Prepared signing-certificate builders signed per second."""
    issuer = ca.current(CertKind.SIGNING)
    four = basic_four_of(HOLDER)
    builders = [
        profile.signing_certificate(issuer.certificate, card_keys[i % len(card_keys)],
              serial=profile.random_serial(), not_before=clock.now(),
              not_after=datetime(2029, 4, 1, 14, 59, 59, tzinfo=UTC),
              prefecture="埼玉県", municipality="所沢市", issuance_id=f"bench{i}",
              basic_four=four, endpoints=ca.endpoints(issuer, "112089"))
        for i in range(certificates)]
    started = time.perf_counter()
    for builder in builders:
        profile.sign(builder, signer)
    return certificates / (time.perf_counter() - started)


def _enrolments_per_minute(ca: CertificateAuthority, folder: Path, enrolments: int,
                           first_resident: int, clock: FrozenClock) -> float:
    """Complete enrolments (the card's two key generations included) per minute."""
    seal_key = b"\x01" * 32
    started = time.perf_counter()
    for i in range(enrolments):
        path = folder / f"card-{i}.jcard"
        with VirtualCard.create(path, seal_key, auth_pin="1234",
                                signing_password="BENCH1") as card:
            pair = issue_pair(ca, holder(first_resident + i), card_id=card.card_id,
                              signing_key=card.public_key("sign"),
                              auth_key=card.public_key("auth"), issued_at=clock.now())
            assert pair.signing is not None
            card.install_certificates(
                auth_cert=pair.authentication.certificate.public_bytes(DER),
                auth_ca_cert=pair.authentication.issuer.certificate.public_bytes(DER),
                sign_cert=pair.signing.certificate.public_bytes(DER),
                sign_ca_cert=pair.signing.issuer.certificate.public_bytes(DER))
    return enrolments / (time.perf_counter() - started) * 60
