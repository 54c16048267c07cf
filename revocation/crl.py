"""CRLs: one per (CA generation, issuing municipality) partition, plus a full CRL per generation.

A partition's CRL lives at the URL its certificates name as CRL distribution point
(``{base_url}/crl/{generation}/{municipality}.crl``) and carries that URL in a critical
issuingDistributionPoint (with onlyContainsUserCerts: a partition holds only holders'
certificates). The full CRL of a generation (``…/{generation}/full.crl``) has no
issuingDistributionPoint: it covers every certificate of that generation, CA-side ones too.
CRL numbers strictly increase per partition (a number is taken *before* the entries are read,
so a higher number never carries older contents). Entries leave a CRL once their certificate has
expired. CRLs are signed only through the injected ``CrlSigners`` port.

Building: ``cryptography``'s builder costs ≈ 15 µs per entry to make each ``RevokedCertificate``
and as much again to sign, and holds every entry as an object (≈ 700 MiB for 1M). Here the
header (names, times, extensions) is still encoded by ``cryptography`` (signed with a throwaway
key and discarded), the entries are encoded as DER directly, spliced into the TBS, and the
TBS is signed through the signer's ``sign()``. The tests check that the result is
byte-identical to ``cryptography``'s own CRL for the same input. A published CRL's entries are
encoded straight from the revocation table's rows (≈ 3 µs each, see the end of this module).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from pki.clock import Clock
from revocation.errors import InvalidRequest, UnknownIssuer
from revocation.ports import CertificateDirectory, CrlSigners, Issuer
from revocation.tables import CrlNumber, IssuedCrl, RevocationEntry, UtcDateTime

FULL = "full"  # the partition name of a generation's full CRL
DEFAULT_VALIDITY = timedelta(hours=24)
DEFAULT_MARGIN = timedelta(hours=1)  # re-issue when less than this is left before nextUpdate
ROWS_PER_FETCH = 10_000
_MUNICIPALITY = re.compile(r"\d{6}")


def crl_url(base_url: str, issuer_name: str, partition: str) -> str:
    """The URL of a partition's CRL (the CA puts the same one in the CRL distribution point)."""
    return f"{base_url.rstrip('/')}/crl/{issuer_name}/{partition}.crl"


def check_partition(partition: str) -> str:
    if partition != FULL and not _MUNICIPALITY.fullmatch(partition):
        raise InvalidRequest(f"{partition!r} is neither a municipality code nor {FULL!r}")
    return partition


@dataclass(frozen=True)
class Entry:
    """One revoked certificate as a CRL lists it."""

    serial: int
    revoked_at: datetime
    reason: x509.ReasonFlags
    invalidity_date: datetime | None


@dataclass(frozen=True)
class PublishedCrl:
    issuer_key_id: str
    partition: str
    number: int
    this_update: datetime
    next_update: datetime
    entries: int
    der: bytes


# -- encoding -------------------------------------------------------------------------------------

_REASON_OID = bytes.fromhex("0603551d15")  # id-ce-cRLReasons, 2.5.29.21
_INVALIDITY_OID = bytes.fromhex("0603551d18")  # id-ce-invalidityDate, 2.5.29.24


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(octets),)) + octets


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + _length(len(body)) + body


def _digits(at: datetime) -> bytes:
    """``YYMMDDHHMMSSZ`` without the century (UTC)."""
    return b"%02d%02d%02d%02d%02d%02dZ" % (at.year % 100, at.month, at.day, at.hour, at.minute,
                                          at.second)


def _time(at: datetime) -> bytes:
    """RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime from 2050 on."""
    if at.year < 2050:
        return b"\x17\x0d" + _digits(at)
    return _generalized(at)


def _generalized(at: datetime) -> bytes:
    return b"\x18\x0f%02d" % (at.year // 100) + _digits(at)


@functools.cache
def _reason_extension(reason: x509.ReasonFlags) -> bytes:
    """The reasonCode extension, or nothing for ``unspecified`` (RFC 5280 §5.3.1)."""
    if reason is x509.ReasonFlags.unspecified:
        return b""
    value = x509.CRLReason(reason).public_bytes()
    return _tlv(0x30, _REASON_OID + _tlv(0x04, value))


# Extension { id-ce-invalidityDate, OCTET STRING { GeneralizedTime (15 octets) } }: 26 octets.
_INVALIDITY_PREFIX = b"\x30\x18" + _INVALIDITY_OID + b"\x04\x11"


def entry_der(entry: Entry) -> bytes:
    """One revokedCertificates element (RFC 5280 §5.1.2.6). ``unspecified`` is expressed by
    leaving the reason code out (§5.3.1)."""
    invalidity = entry.invalidity_date
    return _encode_entry(entry.serial, _time(entry.revoked_at), _reason_extension(entry.reason),
                         b"" if invalidity is None else _generalized(invalidity))


def _encode_entry(serial: int, revoked_at: bytes, reason: bytes, invalidity: bytes) -> bytes:
    """An entry from its encoded parts (``reason``: the whole extension or empty; ``invalidity``
    the GeneralizedTime or empty). Every part is shorter than 128 octets (a serial has at most
    20), so each length is one octet; this runs once per entry of a million-entry CRL."""
    octets = serial.to_bytes(serial.bit_length() // 8 + 1, "big")
    if len(octets) > 20:
        raise ValueError("a serial has at most 20 octets (RFC 5280 §4.1.2.2)")
    extensions = reason + _INVALIDITY_PREFIX + invalidity if invalidity else reason
    body = b"\x02" + bytes((len(octets),)) + octets + revoked_at
    if extensions:
        body += b"\x30" + bytes((len(extensions),)) + extensions
    return b"\x30" + bytes((len(body),)) + body


def _elements(der: bytes) -> list[bytes]:
    """The top-level elements inside a DER SEQUENCE."""
    if der[0] != 0x30:
        raise ValueError("not a SEQUENCE")
    start, end = _header(der, 0)
    if end != len(der):
        raise ValueError("trailing bytes after the SEQUENCE")
    elements, at = [], start
    while at < end:
        _, stop = _header(der, at)
        elements.append(der[at:stop])
        at = stop
    return elements


def _header(der: bytes, at: int) -> tuple[int, int]:
    """(start of contents, end of element) of the element at ``at``."""
    first = der[at + 1]
    if first < 0x80:
        return at + 2, at + 2 + first
    count = first & 0x7F
    size = int.from_bytes(der[at + 2:at + 2 + count], "big")
    return at + 2 + count, at + 2 + count + size


@functools.cache
def _throwaway() -> rsa.RSAPrivateKey:
    """Signs the header template only; its signature is discarded."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def crl_extensions(issuer: Issuer, number: int, idp_url: str | None
                   ) -> list[x509.Extension[x509.ExtensionType]]:
    """CRL number and AKI; a partition's critical issuingDistributionPoint."""
    ski = issuer.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    extensions: list[x509.Extension[x509.ExtensionType]] = [
        x509.Extension(x509.CRLNumber.oid, False, x509.CRLNumber(number)),
        x509.Extension(x509.AuthorityKeyIdentifier.oid, False,
                       x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(
                           ski.value)),
    ]
    if idp_url is not None:
        idp = x509.IssuingDistributionPoint(
            full_name=[x509.UniformResourceIdentifier(idp_url)], relative_name=None,
            only_contains_user_certs=True, only_contains_ca_certs=False,
            only_some_reasons=None, indirect_crl=False, only_contains_attribute_certs=False)
        extensions.append(x509.Extension(idp.oid, True, idp))
    return extensions


def build_crl(issuer: Issuer, signer: rsa.RSAPrivateKey, *, number: int, this_update: datetime,
              next_update: datetime, entries: Iterable[Entry], idp_url: str | None) -> bytes:
    """A signed CRL (DER) with every entry, in the given order."""
    return _signed_crl(issuer, signer, number=number, this_update=this_update,
                       next_update=next_update, revoked=b"".join(map(entry_der, entries)),
                       idp_url=idp_url)


def _signed_crl(issuer: Issuer, signer: rsa.RSAPrivateKey, *, number: int,
                this_update: datetime, next_update: datetime, revoked: bytes,
                idp_url: str | None) -> bytes:
    """The signed CRL around ``revoked``, the concatenated DER of its entries."""
    template = x509.CertificateRevocationListBuilder(
        issuer_name=issuer.certificate.subject, last_update=this_update,
        next_update=next_update, extensions=crl_extensions(issuer, number, idp_url),
    ).sign(_throwaway(), hashes.SHA256())
    elements = _elements(template.tbs_certlist_bytes)
    if revoked:
        at = next((i for i, e in enumerate(elements) if e[0] == 0xA0), len(elements))
        elements.insert(at, _tlv(0x30, revoked))
    tbs = _tlv(0x30, b"".join(elements))
    algorithm = next(e for e in elements if e[0] == 0x30)  # the first SEQUENCE: signature
    signature = signer.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    return _tlv(0x30, tbs + algorithm + _tlv(0x03, b"\x00" + signature))


# -- publishing -----------------------------------------------------------------------------------


class CrlPublisher:
    """Issues, stores and finds the CRLs of every partition."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock,
                 directory: CertificateDirectory, signers: CrlSigners, base_url: str, *,
                 validity: timedelta = DEFAULT_VALIDITY, margin: timedelta = DEFAULT_MARGIN
                 ) -> None:
        if not timedelta(0) < margin < validity:
            raise ValueError("the re-issue margin must be shorter than the validity")
        self._sessions = sessions
        self._clock = clock
        self._directory = directory
        self._signers = signers
        self.base_url = base_url.rstrip("/")
        self.validity = validity
        self.margin = margin
        self._issuers: dict[str, Issuer] = {}

    def issuer(self, key_id_or_name: str) -> Issuer:
        """A generation by key id or by name (``sign-1``)."""
        for attempt in (1, 2):
            if attempt == 2 or not self._issuers:
                self._issuers = {}
                for issuer in self._directory.issuers():
                    self._issuers[issuer.key_id] = self._issuers[issuer.name] = issuer
            if key_id_or_name in self._issuers:
                return self._issuers[key_id_or_name]
        raise UnknownIssuer(f"no CA generation {key_id_or_name}")

    def issue(self, issuer_key_id: str, partition: str) -> PublishedCrl:
        """Take the next number, read the partition's unexpired revocations, sign, store."""
        issuer = self.issuer(issuer_key_id)
        check_partition(partition)
        number = self._next_number(issuer.key_id, partition)
        this_update = self._clock.now().replace(microsecond=0)
        next_update = this_update + self.validity
        idp = None if partition == FULL else crl_url(self.base_url, issuer.name, partition)
        with self._sessions() as session:
            seen = session.scalar(select(func.count()).select_from(RevocationEntry).where(
                *_scope(issuer.key_id, partition))) or 0
            encoded = _EncodedRows(_listed_rows(session, issuer.key_id, partition, this_update))
            der = _signed_crl(issuer, self._signers.crl_signer(issuer.key_id), number=number,
                              this_update=this_update, next_update=next_update,
                              revoked=b"".join(encoded), idp_url=idp)
            listed = encoded.count
        with self._sessions() as session, session.begin():
            session.add(IssuedCrl(issuer_key_id=issuer.key_id, partition=partition,
                                  number=number, this_update=this_update,
                                  next_update=next_update, entries=listed,
                                  revocations_seen=seen, der=der))
        return PublishedCrl(issuer.key_id, partition, number, this_update, next_update,
                            listed, der)

    def latest(self, issuer: str, partition: str) -> PublishedCrl | None:
        """The current CRL of a partition (``issuer`` by key id or name), if any was issued."""
        key_id = self.issuer(issuer).key_id
        with self._sessions() as session:
            row = session.scalars(select(IssuedCrl).where(
                IssuedCrl.issuer_key_id == key_id, IssuedCrl.partition == partition)
                .order_by(IssuedCrl.number.desc()).limit(1)).first()
        if row is None:
            return None
        return PublishedCrl(row.issuer_key_id, row.partition, row.number, row.this_update,
                            row.next_update, row.entries, row.der)

    def current(self) -> list[PublishedCrl]:
        """The newest CRL of every partition that has one."""
        with self._sessions() as session:
            newest = (select(IssuedCrl.issuer_key_id, IssuedCrl.partition,
                             func.max(IssuedCrl.number).label("number"))
                      .group_by(IssuedCrl.issuer_key_id, IssuedCrl.partition).subquery())
            rows = session.scalars(select(IssuedCrl).join(
                newest, (IssuedCrl.issuer_key_id == newest.c.issuer_key_id)
                & (IssuedCrl.partition == newest.c.partition)
                & (IssuedCrl.number == newest.c.number))).all()
            return [PublishedCrl(r.issuer_key_id, r.partition, r.number, r.this_update,
                                 r.next_update, r.entries, r.der) for r in rows]

    def ensure(self, issuer: str, partition: str) -> PublishedCrl:
        """The current CRL, issued now if there is none or it is about to go stale."""
        check_partition(partition)
        current = self.latest(issuer, partition)
        if current is None or current.next_update - self.margin <= self._clock.now():
            return self.issue(self.issuer(issuer).key_id, partition)
        return current

    def due(self) -> list[tuple[str, str]]:
        """Partitions to re-issue now: a revocation not yet on their CRL, a CRL about to go
        stale, or a generation without a full CRL."""
        now = self._clock.now()
        with self._sessions() as session:
            counts: dict[tuple[str, str], int] = {}
            for key_id, partition, count in session.execute(
                    select(RevocationEntry.issuer_key_id, RevocationEntry.partition,
                           func.count()).group_by(RevocationEntry.issuer_key_id,
                                                  RevocationEntry.partition)):
                if partition is not None:
                    counts[(key_id, partition)] = count
                counts[(key_id, FULL)] = counts.get((key_id, FULL), 0) + count
            newest = (select(IssuedCrl.issuer_key_id, IssuedCrl.partition,
                             func.max(IssuedCrl.number).label("number"))
                      .group_by(IssuedCrl.issuer_key_id, IssuedCrl.partition).subquery())
            latest = {(row.issuer_key_id, row.partition): row for row in session.scalars(
                select(IssuedCrl).join(newest, (IssuedCrl.issuer_key_id == newest.c.issuer_key_id)
                                       & (IssuedCrl.partition == newest.c.partition)
                                       & (IssuedCrl.number == newest.c.number)))}
        wanted = set(counts) | set(latest)
        wanted |= {(issuer.key_id, FULL) for issuer in self._directory.issuers()}
        due = []
        for key in sorted(wanted):
            crl = latest.get(key)
            if (crl is None or crl.revocations_seen < counts.get(key, 0)
                    or crl.next_update - self.margin <= now):
                due.append(key)
        return due

    def publish_due(self) -> list[PublishedCrl]:
        return [self.issue(key_id, partition) for key_id, partition in self.due()]

    def _next_number(self, issuer_key_id: str, partition: str) -> int:
        """Take the partition's next CRL number (committed at once; gaps are harmless)."""
        for attempt in (1, 2, 3):
            try:
                with self._sessions() as session, session.begin():
                    number = session.execute(
                        update(CrlNumber)
                        .where(CrlNumber.issuer_key_id == issuer_key_id,
                               CrlNumber.partition == partition)
                        .values(last_number=CrlNumber.last_number + 1)
                        .returning(CrlNumber.last_number)).scalar_one_or_none()
                    if number is None:
                        session.add(CrlNumber(issuer_key_id=issuer_key_id, partition=partition,
                                              last_number=1))
                        number = 1
                return number
            except IntegrityError:
                if attempt == 3:
                    raise
        raise AssertionError("unreachable")


def _scope(issuer_key_id: str, partition: str) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [RevocationEntry.issuer_key_id == issuer_key_id]
    if partition != FULL:
        conditions.append(RevocationEntry.partition == partition)
    return conditions




# -- entries straight from rows ------------------------------------------------------------------
#
# A CRL may list a million entries: they are read through the session's own DBAPI connection
# (its transaction, so the count above and the rows agree) and each row is encoded as it comes,
# without ORM rows, type processing or datetime objects. Building a 1M-entry CRL this way takes
# ≈ 3 µs an entry on SQLite instead of ≈ 11 (BENCHMARKS.md, "A CRL of 1,000,000 entries").


def _listed_rows(session: Session, issuer_key_id: str, partition: str, cutoff: datetime
                 ) -> Iterator[Sequence[Sequence[Any]]]:
    """Batches of ``(serial, revoked_at, reason, invalidity_date)`` of the unexpired entries
    of a partition, in revocation order, the times as text (``YYYY-MM-DD HH:MM:SS``, UTC).

    A full CRL lists most of the table: its key id is compared as an expression, so that no
    index is used and the table is read in primary-key order (through the (issuer, partition)
    index SQLite looks every row up one by one and sorts them all: 1M entries, 7.2 s instead
    of 0.9 s). A partition is a small part of the table: its index is the right way in.
    """
    connection = session.connection()
    dialect = connection.dialect
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    params: tuple[object, ...] = (issuer_key_id,)
    where = f"issuer_key_id || '' = {mark}"
    if partition != FULL:
        where, params = f"issuer_key_id = {mark} AND partition = {mark}", (issuer_key_id,
                                                                           partition)
    process = UtcDateTime().bind_processor(dialect)
    params += (process(cutoff) if process is not None else cutoff,)
    raw = connection.connection.dbapi_connection
    assert raw is not None
    times = "revoked_at, reason, invalidity_date"
    if dialect.name == "postgresql":
        # A server-side cursor, so that the rows are not all fetched at once; the times as
        # text in SQLite's form (UTC), which is encoded without making datetimes.
        cursor = raw.cursor(name="crl_entries")
        times = (f"{_PG_TEXT.format('revoked_at')}, reason, "
                 f"{_PG_TEXT.format('invalidity_date')}")
    else:
        cursor = raw.cursor()
    try:
        cursor.execute(f"SELECT serial, {times} FROM {RevocationEntry.__tablename__} "
                       f"WHERE {where} AND not_after >= {mark} ORDER BY revocation_id", params)
        while rows := cursor.fetchmany(ROWS_PER_FETCH):
            yield rows
    finally:
        cursor.close()


_PG_TEXT = "to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"


class _EncodedRows:
    """The DER of each listed row, in order; ``count`` says how many were encoded.

    The times are text (SQLite stores SQLAlchemy's ``YYYY-MM-DD HH:MM:SS.ffffff``, UTC;
    PostgreSQL is asked for the same form): their digits are the DER time's. Any other form
    (an aware datetime) is encoded through ``datetime``. Seconds are truncated, as everywhere
    else in CRLs and OCSP responses. ``entry_der`` of the same entry gives the same octets
    (tested).
    """

    def __init__(self, batches: Iterable[Sequence[Sequence[Any]]]) -> None:
        self._batches = batches
        self.count = 0

    def __iter__(self) -> Iterator[bytes]:
        reasons: dict[str, bytes] = {}
        for rows in self._batches:
            self.count += len(rows)
            for serial, revoked_at, reason, invalidity in rows:
                extension = reasons.get(reason)
                if extension is None:
                    extension = reasons[reason] = _reason_extension(x509.ReasonFlags(reason))
                number = int(serial)
                octets = number.to_bytes((number.bit_length() >> 3) + 1, "big")
                if len(octets) > 20:
                    raise ValueError("a serial has at most 20 octets (RFC 5280 §4.1.2.2)")
                if invalidity is not None:
                    extension = extension + _INVALIDITY_PREFIX + _stored_time(invalidity, True)
                body = b"\x02" + _SHORT[len(octets)] + octets + _stored_time(revoked_at, False)
                if extension:
                    body += b"\x30" + _SHORT[len(extension)] + extension
                yield b"\x30" + _SHORT[len(body)] + body


_SHORT = [bytes((n,)) for n in range(128)]  # one-octet DER lengths


def _stored_time(value: object, generalized: bool) -> bytes:
    """``_time`` (or ``_generalized``) of a stored time as the driver returns it."""
    if type(value) is str and len(value) >= 19 and value[4] == "-" and value[10] == " ":
        digits = value.encode().translate(None, b"-: ")  # SQLite: YYYYMMDDHHMMSS[.ffffff]
        if generalized or digits[:4] >= b"2050":  # as ``_time``: UTCTime through 2049
            return b"\x18\x0f" + digits[:14] + b"Z"
        return b"\x17\x0d" + digits[2:14] + b"Z"
    at = _as_utc(value)
    return _generalized(at) if generalized else _time(at)


def _as_utc(value: object) -> datetime:
    if isinstance(value, str):  # another text form: let datetime parse it
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a stored time: {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).replace(microsecond=0)
