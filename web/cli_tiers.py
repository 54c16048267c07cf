"""``jpki tiers ...`` and ``jpki worker KIND``: the Juki-net tiers from the shell."""

from __future__ import annotations

import signal
import threading
from datetime import datetime
from types import FrameType

import click
from rich.table import Table

from jukibridge import notices, tier_status, workers
from web.cli import JpkiGroup, console, with_services
from web.services import Services


@click.group(cls=JpkiGroup)
def tiers() -> None:
    """CS → prefecture → national: lag, reconciliation, the notice feed."""


REVOCATION = "revocation"


@tiers.command("status")
@with_services
def tiers_status(services: Services) -> None:
    """Events pending on each hop and the age of the oldest one."""
    now = services.clock.now()
    with services.sessions() as session:
        report = tier_status.status(session)
    table = Table(title="tiers")
    for column in ("from", "to", "sent", "applied", "pending", "oldest pending"):
        table.add_column(column)
    for hop in report.hops:
        table.add_row(hop.source, hop.target, str(hop.last_sent), str(hop.last_applied),
                      str(hop.pending), _age(now, hop.oldest_pending_at))
    console.print(table)
    console.print(f"revocation-notice feed: {report.notices} notices")


def _age(now: datetime, then: datetime | None) -> str:
    return "" if then is None else f"{(now - then).total_seconds():.1f} s"


@tiers.command("reconcile")
@click.argument("municipality_code")
@click.option("--repair", is_flag=True, help="Re-send what is missing or differs upstream.")
@with_services
def tiers_reconcile(services: Services, municipality_code: str, repair: bool) -> None:
    """Compare MUNICIPALITY_CODE's records with the prefecture and national stores."""
    result = tier_status.reconcile(services.sessions, services.clock, municipality_code,
                                   repair=repair)
    for diff in result.differences:
        console.print(f"{diff.resident_code} {diff.tier}: {diff.problem}")
    console.print(f"{result.checked} records checked, {len(result.differences)} differences"
                  + (f", {result.resent} re-sent" if repair else ""))
    if result.differences and not repair:
        raise SystemExit(1)


@tiers.command("drain")
@with_services
def tiers_drain(services: Services) -> None:
    """Run every tier worker until nothing is pending (for demos and maintenance)."""
    moved = workers.drain(services.sessions, services.clock)
    console.print(f"{moved} events delivered")


@tiers.command("notices")
@click.option("--after", type=click.IntRange(0), default=0, help="Show notices after this seq.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@with_services
def tiers_notices(services: Services, after: int, limit: int) -> None:
    """The national server's revocation-notice feed (異動等失効情報)."""
    with services.sessions() as session:
        feed = notices.read(session, after_seq=after, limit=limit)
    table = Table(title="revocation notices")
    for column in ("seq", "kind", "resident code", "municipality", "reason", "effective",
                   "changed"):
        table.add_column(column)
    for n in feed:
        table.add_row(str(n.seq), n.kind.value, n.resident_code, n.municipality_code,
                      n.change_reason, n.effective_on.isoformat(), ", ".join(n.changed))
    console.print(table)


@click.command("worker")
@click.argument("kind", type=click.Choice([*workers.KINDS, "revocation"]))
@click.option("--interval", type=click.FloatRange(0.001, 60), default=0.05, show_default=True,
              help="Seconds to wait when there is nothing to deliver.")
@click.option("--batch", type=click.IntRange(1, 100_000), default=1000, show_default=True)
@with_services
def worker(services: Services, kind: str, interval: float, batch: int) -> None:
    """Run one worker (a tier, or the revocation service) as its own process until SIGINT or
    SIGTERM."""
    stopped = threading.Event()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    console.print(f"worker {kind} running (interval {interval} s, batch {batch})")
    if kind == REVOCATION:
        side = services.revocation
        while not stopped.is_set():
            if not side.run_once(batch):
                stopped.wait(interval)
    else:
        threads = workers.TierThreads(services.sessions, services.clock, interval=interval,
                                      batch=batch, kinds=(kind,))
        threads.start()
        stopped.wait()
        threads.stop()
    console.print(f"worker {kind} stopped")


def attach(main: click.Group) -> None:
    main.add_command(tiers)
    main.add_command(worker)
