"""The running service: waitress with the workers as threads of its process (``jpki serve``).

The embedded default (DESIGN.md §3) runs everything in one process: the WSGI server, the tier
workers (CS → prefecture → national) and the revocation worker (notices in, CRLs and OCSP
responses out), so that a relocation committed at the counter reaches OCSP within a second.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

from rich.cells import cell_len
from waitress.server import create_server

from jukibridge.workers import TierThreads
from web.app import create_app
from web.metrics import EXTENSION as METRICS
from web.metrics import Metrics
from web.ocsp_server import OcspServer, bind
from web.services import Services

log = logging.getLogger(__name__)

REVOCATION_INTERVAL = 0.05  # seconds between idle rounds: OCSP says revoked within a second
FAILURE_PAUSE = 1.0  # seconds after a failed round, so that a broken database is not hammered
THREADS = 8  # waitress request threads


@dataclass
class RevocationThread:
    """``RevocationSide.run_once`` in a loop, pausing when there was nothing to do."""

    services: Services
    interval: float = REVOCATION_INTERVAL
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="revocation", daemon=True)
        self._thread.start()

    def run(self) -> None:
        side = self.services.revocation
        while not self._stop.is_set():
            try:
                busy = side.run_once()
            except Exception:  # the worker must outlive a failed round; the next one retries
                log.exception("revocation worker: round failed")
                self._stop.wait(FAILURE_PAUSE)
                continue
            if not busy:
                self._stop.wait(self.interval)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None


@dataclass
class Running:
    """A started service: the WSGI server and the worker threads."""

    server: Any  # waitress' BaseWSGIServer
    tiers: TierThreads
    revocation: RevocationThread
    ocsp: OcspServer | None = None  # the OCSP responder's own front (``--ocsp-port``)
    _serving: threading.Event = field(default_factory=threading.Event)
    _done: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        return f"http://{self.server.effective_host}:{self.server.effective_port}"

    def serve_forever(self) -> None:
        """Serve until ``stop()`` (from another thread) or Ctrl-C."""
        self._serving.set()
        if self.ocsp is not None:
            self.ocsp.start()
        try:
            self.server.run()  # waitress ends its loop itself on KeyboardInterrupt
        finally:
            self._serving.clear()
            self._done.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Close the listening socket and every connection (inside waitress' loop while it
        runs: its sockets belong to that thread), then the request threads and the workers."""
        if self._serving.is_set():
            # OSError: the loop has closed its trigger already, so it is ending by itself
            with contextlib.suppress(OSError):
                self.server.trigger.pull_trigger(self._close_all)
            self._done.wait(timeout)
        else:
            self._close_all()
        self.server.task_dispatcher.shutdown()
        if self.ocsp is not None:
            self.ocsp.stop()
        self.revocation.stop()
        self.tiers.stop()

    def _close_all(self) -> None:
        for channel in list(self.server._map.values()):
            channel.close()


def start(services: Services, host: str, port: int, *, workers: bool = True,
          ocsp_port: int | None = None) -> Running:
    """Bind the server (``port`` 0: any free port) and start the workers; not yet serving.

    With ``ocsp_port``, the OCSP responder also gets its own front on that port
    (``web.ocsp_server``), started with the server; its answers count in the same metrics.
    """
    services.revocation  # noqa: B018  (build it, and open the CA keys, before the first request)
    app = create_app(services=services)
    server = create_server(app, host=host, port=port, threads=THREADS, ident="jpki")
    ocsp = None
    if ocsp_port is not None:
        counters = app.extensions.setdefault(METRICS, Metrics())
        ocsp = bind(services.revocation.ocsp, host, ocsp_port, counters)
    tiers = TierThreads(services.sessions, services.clock)
    revocation = RevocationThread(services)
    if workers:
        tiers.start()
        revocation.start()
    return Running(server, tiers, revocation, ocsp)


Announce = Callable[["Running"], None]


def serve_until_stopped(services: Services, host: str, port: int, *, workers: bool = True,
                        ocsp_port: int | None = None, announce: Announce | None = None) -> None:
    """Start, print where the service is (then ``announce``), serve until Ctrl-C or SIGTERM."""
    from web.cli import console  # the command line's console (web.cli imports this module)

    running = start(services, host, port, workers=workers, ocsp_port=ocsp_port)

    def terminate(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, terminate)
    url = running.url
    console.print(f"serving on {url}" + (" (tier and revocation workers running)" if workers
                                         else ""))
    for what, path in (("counter (窓口)", "/counter/"), ("portal (利用者ポータル)", "/portal/"),
                       ("dashboard (運用状況)", "/counter/dashboard"),
                       ("OCSP", "/ocsp"), ("CA certificate", "/ca/sign-1.cer"),
                       ("CRL", "/crl/sign-1/full.crl"), ("verification API", "/api/v1/verify"),
                       ("API document", "/api/v1/openapi.json"), ("health", "/healthz"),
                       ("metrics", "/metrics")):
        console.print(f"  {what}{' ' * max(1, 24 - cell_len(what))}{url}{path}")
    if running.ocsp is not None:
        what = "OCSP (own front)"
        console.print(f"  {what}{' ' * max(1, 24 - cell_len(what))}{running.ocsp.url}")
    base = services.settings.base_url.rstrip("/")
    named_ocsp = services.settings.ocsp_url
    if named_ocsp:
        console.print(f"note: certificates name {named_ocsp} (ocsp_url) for OCSP")
    if base != url:
        console.print(f"note: certificates name {base} (base_url) for their CRLs"
                      + ("" if named_ocsp else " and OCSP"))
    if announce is not None:
        announce(running)
    console.file.flush()
    try:
        running.serve_forever()
    finally:
        running.stop()
        console.print("stopped")
