"""OCSP responses (RFC 6960): good, revoked (time and reason) or unknown.

A request names the issuer by the hashes of its name and key: every generation of a CA shares
one DN, so the key hash picks the generation. The answer is signed by that generation's
delegated responder (responder id by key hash, its certificate included), never by a CA key.

Pre-signed responses: a response without nonce for a SHA-1 CertID (the RFC 5019 profile every
common client uses) is stored per ``(issuer key id, serial)`` and served until less than
``refresh`` is left before its nextUpdate. The cache cannot answer wrongly: it is read together
with the revocation table, and a ``good`` response for a revoked certificate is discarded and
re-signed. Each process also keeps the responses it served or signed in memory (bounded);
a ``good`` one is served from there only after one indexed read of the revocation table says
the certificate is still not revoked, so memory never outlives a revocation committed by any
process. ``on_revoked`` (a service listener) re-signs at once after a revocation,
``presign_issuer`` fills the cache for a generation, ``refresh_due`` renews what goes stale. A
request with a nonce always gets a freshly signed response echoing it. A serial that was never
issued is ``unknown``, never ``good``; such answers are not stored.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from sqlalchemy import Engine, PoolProxiedConnection, and_, event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pki.clock import Clock
from revocation.ports import CertificateDirectory, Issuer, OcspResponders, Responder
from revocation.service import CertRef, CertStatus, Revocation, revocation_of
from revocation.tables import OcspResponseRow, RevocationEntry

MAX_REQUEST = 10_000  # octets; a single-certificate request is ≈ 100
MAX_NONCE = 32  # RFC 8954 §2.1
DEFAULT_VALIDITY = timedelta(hours=24)
DEFAULT_REFRESH = timedelta(hours=12)
MEMORY_ENTRIES = 32_768  # responses kept in memory per process (≈ 1.3 KB each)
ISSUER_RELOAD = timedelta(seconds=60)  # an unknown issuer hash reloads the generations at most
_HASHES: tuple[hashes.HashAlgorithm, ...] = (
    hashes.SHA1(), hashes.SHA256(), hashes.SHA384(), hashes.SHA512())


@dataclass(frozen=True)
class CertId:
    """The CertID of a request, echoed in the response."""

    algorithm: hashes.HashAlgorithm
    name_hash: bytes
    key_hash: bytes
    serial: int


def cert_id(issuer: x509.Certificate, serial: int,
            algorithm: hashes.HashAlgorithm | None = None) -> CertId:
    """The CertID of ``serial`` under ``issuer`` (SHA-1 unless told)."""
    algorithm = algorithm or hashes.SHA1()
    return CertId(algorithm, _digest(algorithm, issuer.subject.public_bytes()),
                  _digest(algorithm, _key_bits(issuer)), serial)


def _key_bits(issuer: x509.Certificate) -> bytes:
    """The subjectPublicKey BIT STRING's contents (for RSA: the PKCS #1 RSAPublicKey)."""
    return issuer.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.PKCS1)


def _digest(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize()


def error_response(status: ocsp.OCSPResponseStatus) -> bytes:
    """An unsuccessful response (unsigned, as RFC 6960 §2.3 has it)."""
    return ocsp.OCSPResponseBuilder.build_unsuccessful(status).public_bytes(
        serialization.Encoding.DER)


class OcspResponder:
    """Answers OCSP requests for every generation; signs only through ``OcspResponders``."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock,
                 directory: CertificateDirectory, responders: OcspResponders, *,
                 validity: timedelta = DEFAULT_VALIDITY, refresh: timedelta = DEFAULT_REFRESH,
                 memory: int = MEMORY_ENTRIES) -> None:
        if not timedelta(0) < refresh < validity:
            raise ValueError("the refresh margin must be shorter than the validity")
        self._sessions = sessions
        self._clock = clock
        self._directory = directory
        self._responders = responders
        self.validity = validity
        self.refresh = refresh
        self._index: dict[tuple[str, bytes, bytes], Issuer] = {}
        self._by_key: dict[str, Issuer] = {}
        self._loaded_at: datetime | None = None
        self._signers: dict[str, Responder] = {}
        self._memory = ResponseMemory(memory)
        self._revoked = RevocationProbe(sessions)

    # -- requests --------------------------------------------------------------------------------

    def respond(self, request_der: bytes) -> bytes:
        """The DER response to a DER request; malformed input gets ``malformedRequest``."""
        parsed = self._parse(request_der)
        if isinstance(parsed, bytes):
            return parsed
        issuer, certid, nonce = parsed
        return self.answer(issuer, certid, nonce)

    def from_memory(self, request_der: bytes) -> bytes | HeldAnswer | None:
        """What ``respond`` would answer, as far as it needs no signature, no write and no read:
        a refusal (DER), or the response held in memory for the request (a ``good`` one to be
        served only once ``revoked_among`` says the certificate is still not revoked); ``None``
        when ``respond`` must be asked. For a server that batches the revocation reads of
        concurrent requests (``web.ocsp_server``)."""
        parsed = self._parse(request_der)
        if isinstance(parsed, bytes):
            return parsed
        issuer, certid, nonce = parsed
        if nonce is not None or not isinstance(certid.algorithm, hashes.SHA1):
            return None
        held = self._fresh(issuer.key_id, certid.serial)
        return None if held is None else HeldAnswer(issuer.key_id, certid.serial, held.der,
                                                    held.good)

    def revoked_among(self, certificates: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        """Which of these ``(issuer key id, serial)`` are revoked, as committed now (one read
        per issuer)."""
        return self._revoked.among(certificates)

    def _parse(self, request_der: bytes) -> tuple[Issuer, CertId, bytes | None] | bytes:
        """The request's issuer, CertID and nonce, or the error response it gets."""
        if not request_der or len(request_der) > MAX_REQUEST:
            return error_response(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        try:
            request = ocsp.load_der_ocsp_request(request_der)
            certid = CertId(request.hash_algorithm, request.issuer_name_hash,
                            request.issuer_key_hash, request.serial_number)
            nonce = _nonce(request)
        except (ValueError, UnsupportedAlgorithm, x509.DuplicateExtension):
            return error_response(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        if nonce is not None and not 1 <= len(nonce) <= MAX_NONCE:
            return error_response(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        issuer = self._issuer_of(certid)
        if issuer is None:
            return error_response(ocsp.OCSPResponseStatus.UNAUTHORIZED)
        return issuer, certid, nonce

    def answer(self, issuer: Issuer, certid: CertId, nonce: bytes | None = None) -> bytes:
        """The signed response for ``certid`` of ``issuer`` (from the cache when it may)."""
        cacheable = nonce is None and isinstance(certid.algorithm, hashes.SHA1)
        if cacheable:
            cached = self._cached(issuer.key_id, certid.serial)
            if cached is not None:
                return cached
        state, revocation = self._state(issuer.key_id, certid.serial)
        responder = self._responder(issuer.key_id)
        if responder is None:
            return error_response(ocsp.OCSPResponseStatus.TRY_LATER)
        now = self._now()
        der = self._sign(responder, certid, state, revocation, now, nonce)
        if cacheable and state is not CertStatus.UNKNOWN:
            self._store(issuer.key_id, certid.serial, state, now, der)
        return der

    # -- pre-signing ----------------------------------------------------------------------------

    def presign(self, refs: Iterable[CertRef]) -> int:
        """Sign and store fresh responses for these certificates; returns how many."""
        count = 0
        for ref in refs:
            issuer = self._issuer_by_key(ref.issuer_key_id)
            responder = self._responder(ref.issuer_key_id)
            if issuer is None or responder is None:
                continue
            state, revocation = self._state(ref.issuer_key_id, ref.serial)
            if state is CertStatus.UNKNOWN:
                continue
            now = self._now()
            der = self._sign(responder, cert_id(issuer.certificate, ref.serial), state,
                             revocation, now, None)
            self._store(ref.issuer_key_id, ref.serial, state, now, der)
            count += 1
        return count

    def on_revoked(self, revocations: Sequence[Revocation]) -> None:
        """Service listener: re-sign the responses of newly revoked certificates."""
        self.presign(r.ref for r in revocations)

    def presign_issuer(self, issuer_key_id: str) -> int:
        """Pre-sign every live certificate of a generation that has no fresh response."""
        now = self._clock.now()
        with self._sessions() as session:
            fresh = set(session.scalars(select(OcspResponseRow.serial).where(
                OcspResponseRow.issuer_key_id == issuer_key_id,
                OcspResponseRow.next_update > now + self.refresh)))
        return self.presign(CertRef(issuer_key_id, r.serial)
                            for r in self._directory.by_issuer(issuer_key_id)
                            if r.not_after > now and str(r.serial) not in fresh)

    def refresh_due(self, limit: int = 1000) -> int:
        """Re-sign up to ``limit`` stored responses that are about to go stale."""
        with self._sessions() as session:
            rows = session.execute(
                select(OcspResponseRow.issuer_key_id, OcspResponseRow.serial)
                .where(OcspResponseRow.next_update <= self._clock.now() + self.refresh)
                .order_by(OcspResponseRow.next_update).limit(limit)).all()
        return self.presign(CertRef(key_id, int(serial)) for key_id, serial in rows)

    def cached(self, issuer_key_id: str, serial: int) -> bytes | None:
        """The stored response of a certificate if it is still right and fresh."""
        return self._cached(issuer_key_id, serial)

    # -- internals -------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return self._clock.now().replace(microsecond=0)

    def _state(self, issuer_key_id: str, serial: int) -> tuple[CertStatus, Revocation | None]:
        held = self._memory.get(issuer_key_id, serial)
        if held is not None and held.good and not self._revoked(issuer_key_id, serial):
            # A response was signed for it, so it was issued (the issued store is
            # append-only), and it is not revoked now: ``good`` without the two ORM reads.
            return CertStatus.GOOD, None
        with self._sessions() as session:
            revocation = revocation_of(session, issuer_key_id, serial)
        if revocation is not None:
            return CertStatus.REVOKED, revocation
        if self._directory.find(issuer_key_id, serial) is None:
            return CertStatus.UNKNOWN, None
        return CertStatus.GOOD, None

    def _sign(self, responder: Responder, certid: CertId, state: CertStatus,
              revocation: Revocation | None, now: datetime, nonce: bytes | None) -> bytes:
        reason = None
        if revocation is not None and revocation.reason is not x509.ReasonFlags.unspecified:
            reason = revocation.reason  # unspecified: leave the reason out (RFC 5280 §5.3.1)
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=certid.name_hash, issuer_key_hash=certid.key_hash,
            serial_number=certid.serial, algorithm=certid.algorithm,
            cert_status=_CERT_STATUS[state], this_update=now, next_update=now + self.validity,
            revocation_time=(revocation.revoked_at.replace(microsecond=0)
                             if revocation is not None else None),
            revocation_reason=reason,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, responder.certificate).certificates(
            [responder.certificate])
        if nonce is not None:
            builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
        return builder.sign(responder.signer, hashes.SHA256()).public_bytes(
            serialization.Encoding.DER)

    def _cached(self, issuer_key_id: str, serial: int) -> bytes | None:
        """The response kept in memory (``_from_memory``); else one read: the stored response,
        and whether the certificate is revoked since."""
        held = self._from_memory(issuer_key_id, serial)
        if held is not None:
            return held
        with self._sessions() as session:
            row = session.execute(
                select(OcspResponseRow.der, OcspResponseRow.status,
                       OcspResponseRow.next_update, RevocationEntry.revocation_id)
                .outerjoin(RevocationEntry, and_(
                    RevocationEntry.issuer_key_id == OcspResponseRow.issuer_key_id,
                    RevocationEntry.serial == OcspResponseRow.serial))
                .where(OcspResponseRow.issuer_key_id == issuer_key_id,
                       OcspResponseRow.serial == str(serial))).first()
        if row is None:
            return None
        der, status, next_update, revocation_id = row
        if (status == CertStatus.GOOD.value) != (revocation_id is None):
            return None  # revoked since it was signed
        if next_update - self.refresh <= self._clock.now():
            return None
        self._memory.keep(issuer_key_id, serial, status == CertStatus.GOOD.value,
                          next_update - self.refresh, bytes(der))
        return bytes(der)

    def _from_memory(self, issuer_key_id: str, serial: int) -> bytes | None:
        """The response kept in memory if still fresh and, for a ``good`` one, the certificate
        still not revoked (revocations are never undone: a ``revoked`` one needs no read)."""
        held = self._fresh(issuer_key_id, serial)
        if held is not None and (not held.good or not self._revoked(issuer_key_id, serial)):
            return held.der
        return None

    def _fresh(self, issuer_key_id: str, serial: int) -> HeldResponse | None:
        """The response kept in memory, if it is not yet due for a refresh."""
        held = self._memory.get(issuer_key_id, serial)
        return held if held is not None and held.stale_at > self._clock.now() else None

    def _store(self, issuer_key_id: str, serial: int, state: CertStatus, now: datetime,
               der: bytes) -> None:
        """Keep a response; a ``good`` one never replaces a ``revoked`` one or lands after a
        revocation (the read in ``_cached`` would catch it anyway)."""
        try:
            with self._sessions() as session, session.begin():
                if (state is CertStatus.GOOD
                        and revocation_of(session, issuer_key_id, serial) is not None):
                    return
                row = session.get(OcspResponseRow, (issuer_key_id, str(serial)))
                if row is None:
                    session.add(OcspResponseRow(
                        issuer_key_id=issuer_key_id, serial=str(serial), status=state.value,
                        this_update=now, next_update=now + self.validity, der=der))
                elif not (row.status == CertStatus.REVOKED.value
                          and state is CertStatus.GOOD):
                    row.status = state.value
                    row.this_update = now
                    row.next_update = now + self.validity
                    row.der = der
                else:
                    return
        except IntegrityError:
            return  # another process stored one at the same moment: it is as good as ours
        self._memory.keep(issuer_key_id, serial, state is CertStatus.GOOD,
                          now + self.validity - self.refresh, der)

    def _responder(self, issuer_key_id: str) -> Responder | None:
        """The generation's responder, kept until its certificate expires."""
        responder = self._signers.get(issuer_key_id)
        if responder is None or responder.certificate.not_valid_after_utc <= self._clock.now():
            responder = self._responders.responder(issuer_key_id)
            if responder is None:
                return None
            self._signers[issuer_key_id] = responder
        return responder

    def _issuer_of(self, certid: CertId) -> Issuer | None:
        key = (certid.algorithm.name, certid.name_hash, certid.key_hash)
        if key not in self._index:
            self._load_issuers()
        return self._index.get(key)

    def _issuer_by_key(self, issuer_key_id: str) -> Issuer | None:
        if issuer_key_id not in self._by_key:
            self._load_issuers(force=True)  # our own key ids: no need to rate-limit
        return self._by_key.get(issuer_key_id)

    def _load_issuers(self, force: bool = False) -> None:
        now = self._clock.now()
        if not force and self._loaded_at is not None and now - self._loaded_at < ISSUER_RELOAD:
            return
        self._loaded_at = now
        index, by_key = {}, {}
        for issuer in self._directory.issuers():
            by_key[issuer.key_id] = issuer
            for algorithm in _HASHES:
                certid = cert_id(issuer.certificate, 0, algorithm)
                index[(algorithm.name, certid.name_hash, certid.key_hash)] = issuer
        self._index, self._by_key = index, by_key


_CERT_STATUS = {
    CertStatus.GOOD: ocsp.OCSPCertStatus.GOOD,
    CertStatus.REVOKED: ocsp.OCSPCertStatus.REVOKED,
    CertStatus.UNKNOWN: ocsp.OCSPCertStatus.UNKNOWN,
}


def _nonce(request: ocsp.OCSPRequest) -> bytes | None:
    try:
        return request.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        return None


# -- the hot path -----------------------------------------------------------------------------
#
# A cached answer used to cost ≈ 0.5 ms, nearly all of it building and running one ORM query.
# Responses are now also kept in process memory; what keeps them right is the read below, one
# indexed lookup on a pooled DBAPI connection (≈ 15 µs on SQLite), made for every ``good``
# answer, so that a revocation committed by any process is seen by the next request.


@dataclass(frozen=True)
class HeldAnswer:
    """A response held in memory for a request (``OcspResponder.from_memory``)."""

    issuer_key_id: str
    serial: int
    der: bytes
    good: bool  # served only after a revocation read says it still is


@dataclass(frozen=True)
class HeldResponse:
    """A signed response kept in memory, served until ``stale_at``."""

    good: bool
    stale_at: datetime
    der: bytes


class ResponseMemory:
    """At most ``size`` responses by ``(issuer key id, serial)``; the oldest kept go first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._held: dict[tuple[str, int], HeldResponse] = {}
        self._lock = threading.Lock()

    def get(self, issuer_key_id: str, serial: int) -> HeldResponse | None:
        return self._held.get((issuer_key_id, serial))

    def keep(self, issuer_key_id: str, serial: int, good: bool, stale_at: datetime,
             der: bytes) -> None:
        if self._size <= 0:
            return
        with self._lock:
            self._held.pop((issuer_key_id, serial), None)
            while len(self._held) >= self._size:
                del self._held[next(iter(self._held))]
            self._held[(issuer_key_id, serial)] = HeldResponse(good, stale_at, der)


class RevocationProbe:
    """Whether a certificate is revoked, as committed now: one indexed read of the revocation
    table (the hot path of every ``good`` answer).

    Each thread keeps its own DBAPI connection, in autocommit (every read sees the latest
    commit), taken from the engine once and closed when the engine is disposed. Below the ORM
    and outside the pool: under a threaded server, checking a connection out of the pool and
    back (locks, a reset) for every answer cost more than the read itself.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._engine: Engine | None = None
        self._sql = self._mark = ""
        self._local = threading.local()
        self._opened: list[PoolProxiedConnection] = []
        self._lock = threading.Lock()

    def __call__(self, issuer_key_id: str, serial: int) -> bool:
        if self._engine is None:
            self._open()  # binds: the statement depends on the dialect
        return bool(self._read(self._sql, (issuer_key_id, str(serial))))

    def among(self, certificates: Sequence[tuple[str, int]]) -> set[tuple[str, int]]:
        """The revoked ones among ``(issuer key id, serial)`` pairs: one read per issuer."""
        wanted: dict[str, set[str]] = {}
        for key_id, serial in certificates:
            wanted.setdefault(key_id, set()).add(str(serial))
        revoked: set[tuple[str, int]] = set()
        if self._engine is None and wanted:
            self._open()  # binds: the statement depends on the dialect
        for key_id, serials in wanted.items():
            mark = self._mark
            sql = (f"SELECT serial FROM {RevocationEntry.__tablename__} WHERE issuer_key_id = "
                   f"{mark} AND serial IN ({', '.join([mark] * len(serials))})")
            revoked.update((key_id, int(row[0])) for row in self._read(sql, (key_id, *serials)))
        return revoked

    def _read(self, sql: str, parameters: tuple[str, ...]) -> list[Any]:
        connection: PoolProxiedConnection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._open()
        try:
            cursor = connection.cursor()
            cursor.execute(sql, parameters)
            rows = list(cursor.fetchall())
            cursor.close()
        except Exception:
            self._local.connection = None  # the next call opens a new one
            self._close(connection)
            raise
        return rows

    def _open(self) -> PoolProxiedConnection:
        with self._lock:
            engine = self._engine or self._bind()
            connection = engine.raw_connection()
            connection.detach()  # ours until closed; the pool opens another in its place
            if engine.dialect.name == "postgresql":
                connection.dbapi_connection.autocommit = True  # type: ignore[union-attr]
            # SQLite connections are in autocommit already (``isolation_level=None``).
            self._opened.append(connection)
        self._local.connection = connection
        return connection

    def _bind(self) -> Engine:
        with self._sessions() as session:
            engine = session.get_bind()
        assert isinstance(engine, Engine)
        mark = self._mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._sql = (f"SELECT 1 FROM {RevocationEntry.__tablename__} "
                     f"WHERE issuer_key_id = {mark} AND serial = {mark}")
        event.listen(engine, "engine_disposed", self._disposed)
        self._engine = engine
        return engine

    def _disposed(self, _engine: Engine) -> None:
        """The engine is being disposed of: close every thread's connection."""
        with self._lock:
            opened, self._opened = self._opened, []
            self._local = threading.local()
        for connection in opened:
            self._close(connection)

    def _close(self, connection: PoolProxiedConnection) -> None:
        with self._lock:
            if connection in self._opened:
                self._opened.remove(connection)
        with contextlib.suppress(Exception):  # closing a broken connection may fail too
            connection.close()
