"""A small OCSP load generator for ``jpki bench revocation --ocsp``, and its reference responder.

``hammer`` sends pre-built DER requests over ``connections`` concurrent HTTP/1.1 connections,
each kept open for as long as the server allows: a server that closes after each answer
(``openssl ocsp`` does) costs a new TCP connection per request, which is how any client would
meet it. It is one asyncio loop (uvloop, httptools' parser): about 15 µs of CPU a request, so
that on a 2-vCPU machine the client is not what limits the servers it compares (threads with
``http.client`` took ≈ 200 µs, as much as a server). Every answer is checked (HTTP 200, the
OCSP media type, a ``successful`` response); the latency of each request is kept.

It runs as its own process (``python -m web.ocsp_load``), so that the client never shares a
GIL with the server it measures. ``openssl ocsp -port`` listens on every address (DESIGN.md §8),
so the ``openssl`` mode is started inside a private network namespace (``unshare -n``): it
brings the namespace's loopback up and starts a fresh responder for the check requests, then
another for the load, each time waiting for its "waiting for OCSP client connections" line
(never probing the port: an empty connection makes it spin). Results are one JSON object on
stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, TypeVar, cast

import httptools
import uvloop

OCSP_REQUEST = "application/ocsp-request"  # RFC 6960 appendix C.1
OCSP_RESPONSE = "application/ocsp-response"
READY = b"waiting for OCSP client connections"  # openssl ocsp's line on stderr once listening
NAMESPACE_PORT = 8080  # any port will do inside a private network namespace
START_TIMEOUT = 30.0  # seconds for openssl to load its index and listen
_SUCCESSFUL = b"\x0a\x01\x00"  # OCSPResponse.responseStatus = successful (0)
T = TypeVar("T")


@dataclass(frozen=True)
class LoadResult:
    """One load run: how many answers in how long, their latencies (seconds), and failures."""

    requests: int
    seconds: float
    latencies: list[float]
    errors: int
    connections: int  # TCP connections the clients had to open
    client_cpu: float  # CPU seconds of this client process during the run
    server_cpu: float | None = None  # the responder's, when this process runs it

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def response_ok(status: int, content_type: str | None, body: bytes) -> bool:
    """A 200 with an OCSP response whose responseStatus is ``successful``."""
    if status != 200 or content_type != OCSP_RESPONSE or len(body) < 8 or body[0] != 0x30:
        return False
    length = body[1]
    start = 2 + (length & 0x7F if length & 0x80 else 0)
    return body[start:start + 3] == _SUCCESSFUL


class _Exchange(asyncio.Protocol):
    """One client connection: send a request, parse its response (httptools), repeat."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.answer: asyncio.Future[bool] | None = None
        self.closed = False
        self.keep = False
        self._body: list[bytes] = []
        self._type: str | None = None
        self._header: bytes = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._finish(False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._finish(False)  # a response cut short (every server here sends Content-Length)

    # httptools' callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-type":
            self._type = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        ok = response_ok(self.parser.get_status_code(), self._type, b"".join(self._body))
        self.keep = self.parser.should_keep_alive()
        self._body, self._type = [], None
        self._finish(ok)

    def _finish(self, ok: bool) -> None:
        if self.answer is not None and not self.answer.done():
            self.answer.set_result(ok)


async def _client(host: str, port: int, requests: Sequence[bytes], latencies: list[float],
                  timeout: float) -> tuple[int, int]:
    """Send ``requests`` one after the other on one connection, reconnecting whenever the
    server closes it; ``(errors, connections opened)``."""
    loop = asyncio.get_running_loop()
    exchange: _Exchange | None = None
    errors = opened = 0
    for request in requests:
        began = time.perf_counter()
        try:
            if exchange is None or exchange.closed:
                _transport, exchange = await loop.create_connection(_Exchange, host, port)
                opened += 1
            exchange.answer = loop.create_future()
            assert exchange.transport is not None
            exchange.transport.write(request)
            ok = await asyncio.wait_for(exchange.answer, timeout)
            if not ok or not exchange.keep:
                exchange.closed = True
        except (OSError, TimeoutError):
            ok = False
        latencies.append(time.perf_counter() - began)
        errors += not ok
        if exchange is not None and exchange.closed and exchange.transport is not None:
            exchange.transport.close()
    if exchange is not None and exchange.transport is not None:
        exchange.transport.close()
    return errors, opened


def hammer(host: str, port: int, path: str, bodies: Sequence[bytes], *,
           connections: int = 16, timeout: float = 30.0) -> LoadResult:
    """POST every body once over ``connections`` concurrent HTTP/1.1 connections (one
    asyncio loop, uvloop); time each request."""
    head = (f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Content-Type: {OCSP_REQUEST}\r\nContent-Length: ").encode()
    requests = [head + b"%d\r\n\r\n" % len(body) + body for body in bodies]
    shares = [requests[i::connections] for i in range(connections)]
    latencies: list[list[float]] = [[] for _ in shares]

    async def run() -> list[tuple[int, int]]:
        return await asyncio.gather(*(_client(host, port, share, mine, timeout)
                                      for share, mine in zip(shares, latencies, strict=True)))

    cpu = time.process_time()
    began = time.perf_counter()
    outcomes = uvloop.run(run())
    seconds = time.perf_counter() - began
    return LoadResult(requests=len(bodies), seconds=seconds,
                      latencies=[t for share in latencies for t in share],
                      errors=sum(e for e, _ in outcomes), connections=sum(o for _, o in outcomes),
                      client_cpu=time.process_time() - cpu)


def fetch(host: str, port: int, path: str, bodies: Sequence[bytes]) -> list[bytes]:
    """Ask each request once, one after the other; the raw answers (for checking them)."""
    conn = http.client.HTTPConnection(host, port, timeout=30)
    answers = []
    for body in bodies:
        conn.request("POST", path, body=body, headers={"Content-Type": OCSP_REQUEST})
        answers.append(conn.getresponse().read())
    conn.close()
    return answers


# -- files and the command line ---------------------------------------------------------------


def write_bodies(path: Path, bodies: Sequence[bytes]) -> None:
    """One base64 DER request per line."""
    path.write_text("".join(base64.b64encode(b).decode() + "\n" for b in bodies))


def read_bodies(path: Path) -> list[bytes]:
    return decode_bodies(path.read_text().split())


def decode_bodies(lines: Sequence[str]) -> list[bytes]:
    return [base64.b64decode(line) for line in lines]


def _report(result: LoadResult | None, checked: list[bytes] | None) -> dict[str, object]:
    return {"load": None if result is None else asdict(result),
            "checked": None if checked is None else [base64.b64encode(a).decode()
                                                     for a in checked]}


def _openssl(args: argparse.Namespace, bodies: list[bytes] | None, check: list[bytes] | None
             ) -> dict[str, object]:
    """Inside a private network namespace: a fresh ``openssl ocsp`` for the check, another
    one for the load (whose CPU time is reported)."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    command = [args.openssl, "ocsp", "-index", args.index, "-port", str(NAMESPACE_PORT),
               "-rsigner", args.rsigner, "-rkey", args.rkey, "-CA", args.ca,
               "-ndays", "1"]
    checked = result = None
    if check is not None:
        checked, _cpu = _with_responder(
            command, lambda: fetch("127.0.0.1", NAMESPACE_PORT, "/", check))
    if bodies is not None:
        result, cpu = _with_responder(command, lambda: hammer(
            "127.0.0.1", NAMESPACE_PORT, "/", bodies, connections=args.connections))
        result = dataclasses.replace(result, server_cpu=cpu)
    return _report(result, checked)


def _with_responder(command: list[str], work: Callable[[], T]) -> tuple[T, float]:
    """``work()`` while a fresh responder runs; its result and the responder's CPU seconds."""
    responder = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert responder.stderr is not None
        deadline = time.monotonic() + START_TIMEOUT
        while READY not in responder.stderr.readline():
            if responder.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"openssl ocsp did not start (exit {responder.poll()})")
        # It logs a line per request to stderr: keep reading, or a full pipe stops it.
        threading.Thread(target=_drain, args=(responder.stderr,), daemon=True).start()
        result = work()
    finally:
        responder.kill()
        _pid, _status, usage = os.wait4(responder.pid, 0)
        responder.returncode = -9
    return result, usage.ru_utime + usage.ru_stime


def _drain(stream: IO[bytes]) -> None:
    for _line in stream:
        pass


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m web.ocsp_load", description=__doc__)
    parser.add_argument("--requests", type=Path, help="the load: base64 DER, one a line")
    parser.add_argument("--check", type=Path,
                        help="requests asked once each, one after the other, before the load "
                             "(their answers are reported)")
    parser.add_argument("--connections", type=int, default=16)
    sub = parser.add_subparsers(dest="mode", required=True)
    http_mode = sub.add_parser("http", help="a server that is already listening")
    http_mode.add_argument("--host", default="127.0.0.1")
    http_mode.add_argument("--port", type=int, required=True)
    http_mode.add_argument("--path", default="/ocsp")
    ref = sub.add_parser("openssl", help="openssl ocsp, in this (private) network namespace")
    for name in ("index", "rsigner", "rkey", "ca"):
        ref.add_argument(f"--{name}", required=True)
    ref.add_argument("--openssl", default="openssl")
    args = parser.parse_args(argv)
    bodies = read_bodies(args.requests) if args.requests else None
    check = read_bodies(args.check) if args.check else None
    if args.mode == "openssl":
        report = _openssl(args, bodies, check)
    else:
        checked = None if check is None else fetch(args.host, args.port, args.path, check)
        report = _report(None if bodies is None else hammer(
            args.host, args.port, args.path, bodies, connections=args.connections), checked)
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
