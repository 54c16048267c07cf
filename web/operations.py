"""The operational state of an instance, read for the dashboard, ``/healthz`` and ``/metrics``.

Everything here only reads: tier lag comes from ``jukibridge.tier_status``, revocations and CRLs
from the revocation service's tables (a CRL's columns only, never its DER, which may be tens of
megabytes for a full CRL), the CA check from the CA and its key store.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from ca.authority import rsa_public
from ca.errors import CaError
from jukibridge import tier_status
from pki.profile import CertKind
from pki.validity import JST
from revocation.tables import IssuedCrl, RevocationEntry
from web.config import ConfigError
from web.services import Services

CHART_DAYS = 14  # revocations per day shown on the dashboard


@dataclass(frozen=True)
class TierLag:
    """One hop between tiers: events sent but not yet applied, and the age of the oldest."""

    source: str  # "cs:112089", "prefecture:11"
    target: str  # "prefecture:11", "national"
    pending: int
    oldest_pending_seconds: float  # 0 when nothing is pending


@dataclass(frozen=True)
class DayCount:
    day: date  # JST
    count: int


@dataclass(frozen=True)
class CrlPartition:
    """The newest CRL of one partition of a CA generation."""

    ca: str  # generation name: sign-1, auth-2
    partition: str  # municipality code or "full"
    number: int
    this_update: datetime
    next_update: datetime
    entries: int

    def seconds_to_next_update(self, now: datetime) -> float:
        return (self.next_update - now).total_seconds()


@dataclass(frozen=True)
class Check:
    """One health check: passed or not, with a short English detail for operators."""

    ok: bool
    detail: str


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def tier_lag(services: Services) -> list[TierLag]:
    """Every hop CS → prefecture → national, in ``tier_status`` order."""
    with services.sessions() as session:
        status = tier_status.status(session)
    now = services.clock.now()
    return [TierLag(hop.source, hop.target, hop.pending,
                    max(0.0, (now - _aware(hop.oldest_pending_at)).total_seconds())
                    if hop.pending and hop.oldest_pending_at is not None else 0.0)
            for hop in status.hops]


def revocations_per_day(services: Services, days: int = CHART_DAYS) -> list[DayCount]:
    """Certificates revoked on each of the last ``days`` days (JST), oldest first."""
    today = services.clock.now().astimezone(JST).date()
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time(0), JST).astimezone(UTC)
    with services.sessions() as session:
        times = session.scalars(select(RevocationEntry.revoked_at)
                                .where(RevocationEntry.revoked_at >= start)).all()
    counts = Counter(_aware(at).astimezone(JST).date() for at in times)
    return [DayCount(first + timedelta(days=n), counts.get(first + timedelta(days=n), 0))
            for n in range(days)]


def revocations_total(services: Services) -> int:
    """Every certificate ever revoked (the table is append-only)."""
    with services.sessions() as session:
        return session.scalar(select(func.count()).select_from(RevocationEntry)) or 0


def crl_partitions(services: Services) -> list[CrlPartition]:
    """The newest CRL of every partition that has one, by generation name then partition."""
    names = {generation.key_id: generation.name
             for kind in CertKind for generation in services.ca.generations(kind)}
    with services.sessions() as session:
        newest = (select(IssuedCrl.issuer_key_id, IssuedCrl.partition,
                         func.max(IssuedCrl.number).label("number"))
                  .group_by(IssuedCrl.issuer_key_id, IssuedCrl.partition).subquery())
        rows = session.execute(
            select(IssuedCrl.issuer_key_id, IssuedCrl.partition, IssuedCrl.number,
                   IssuedCrl.this_update, IssuedCrl.next_update, IssuedCrl.entries)
            .join(newest, (IssuedCrl.issuer_key_id == newest.c.issuer_key_id)
                  & (IssuedCrl.partition == newest.c.partition)
                  & (IssuedCrl.number == newest.c.number))).all()
    found = [CrlPartition(names.get(key_id, key_id[:16]), partition, number,
                          _aware(this_update), _aware(next_update), entries)
             for key_id, partition, number, this_update, next_update, entries in rows]
    return sorted(found, key=lambda p: (p.ca, p.partition != "full", p.partition))


# -- health checks -------------------------------------------------------------------------------


def database_check(services: Services) -> Check:
    try:
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return Check(False, f"unreachable ({type(exc).__name__})")
    return Check(True, "reachable")


def ca_keys_check(services: Services) -> Check:
    """Both CAs have a current generation whose key the key store opens and that matches its
    certificate (the key is loaded once per process and kept)."""
    try:
        for kind in (CertKind.SIGNING, CertKind.AUTHENTICATION):
            generation = services.ca.current(kind)
            public = services.keys.public_key(generation.key_label)
            if (rsa_public(generation.certificate.public_key()).public_numbers()
                    != public.public_numbers()):
                return Check(False, f"the key of {generation.name} does not match its "
                                    "certificate")
    except (CaError, ConfigError) as exc:
        return Check(False, f"{type(exc).__name__}: the CA keys are not available")
    except SQLAlchemyError as exc:
        return Check(False, f"unknown: the database failed ({type(exc).__name__})")
    return Check(True, "signing and authentication CA keys loaded")


def tier_lag_check(hops: list[TierLag] | None, limit_seconds: float) -> Check:
    if hops is None:
        return Check(False, "unknown: the tier status could not be read")
    worst = max((hop.oldest_pending_seconds for hop in hops), default=0.0)
    pending = sum(hop.pending for hop in hops)
    detail = (f"{pending} events pending, oldest {worst:.0f} s (limit {limit_seconds:.0f} s)")
    return Check(worst <= limit_seconds, detail)
