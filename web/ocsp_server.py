"""The OCSP responder's own HTTP front: uvicorn (uvloop, httptools) and a small ASGI app.

Relying parties ask OCSP for every certificate they check, so the responder gets a server of
its own, apart from the Flask application that ``jpki serve`` runs under waitress (whose
thread per request costs more than the answer). It serves only the responder's URLs:

- ``POST /ocsp`` (RFC 6960 appendix A.1.1, ``application/ocsp-request``);
- ``GET /ocsp/<url-encoded base64 of the DER request>`` (RFC 5019 §5);
- ``GET /healthz`` for a load balancer.

An answer that needs neither a signature nor a write (a refusal, or a response held in
memory: ``OcspResponder.from_memory``) is given on the event loop, a ``good`` one after the
revocation read that every ``good`` answer needs, batched over the requests waiting for it
(``ProbeBatcher``); anything else (a nonce, a response to sign, a read through the ORM) runs
on a small thread pool, so that one signature never holds up the answers behind it. Bad input
gets an OCSP ``malformedRequest`` (or an HTTP 4xx for a wrong method, media type or URL), a
failure an OCSP ``internalError``: never a stack trace. It is started by ``jpki serve
--ocsp-port`` (a thread of the service) or ``jpki ocsp serve`` (a process of its own);
certificates name it when the ``ocsp_url`` setting does.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import concurrent.futures
import json
import logging
import socket
import threading
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import uvicorn
from cryptography.x509 import ocsp

from revocation.ocsp import MAX_REQUEST, OcspResponder, error_response
from web.metrics import Metrics, ocsp_status

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

OCSP_REQUEST = b"application/ocsp-request"  # RFC 6960 appendix C.1
OCSP_RESPONSE = b"application/ocsp-response"  # RFC 6960 appendix C.2
ENDPOINT = "ocsp_server"  # the request counter's endpoint label for this front
POOL_THREADS = 4  # signatures and ORM reads off the event loop
KEEP_ALIVE = 5  # seconds an idle connection is kept
MAX_CONNECTIONS = 2048  # beyond this uvicorn answers 503


@dataclass
class OcspApp:
    """The ASGI application: the responder's URLs and nothing else."""

    responder: OcspResponder
    counters: Metrics | None = None
    pool: concurrent.futures.ThreadPoolExecutor = field(
        default_factory=lambda: concurrent.futures.ThreadPoolExecutor(
            POOL_THREADS, thread_name_prefix="ocsp"))
    probes: ProbeBatcher = field(init=False)

    def __post_init__(self) -> None:
        self.probes = ProbeBatcher(self.responder.revoked_among, self.pool)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan is off; websockets are not served
            return
        method, path = scope["method"], scope["path"]
        if path in ("/ocsp", "/ocsp/"):
            if method != "POST":
                await _plain(send, 405, "POST an OCSP request, or GET /ocsp/<base64>",
                             [(b"allow", b"POST")])
            else:
                await self._post(scope, receive, send)
        elif path.startswith("/ocsp/"):
            if method not in ("GET", "HEAD"):
                await _plain(send, 405, "GET /ocsp/<base64 of the request>",
                             [(b"allow", b"GET, HEAD")])
            else:
                await self._answer(send, _from_get(scope), method)
        elif path == "/healthz" and method in ("GET", "HEAD"):
            await _send(send, 200, b"text/plain; charset=utf-8", b"ok\n")
        else:
            await _plain(send, 404, "this server answers OCSP requests at /ocsp only")

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media != OCSP_REQUEST:
            await _plain(send, 415, "an OCSP request is sent as application/ocsp-request")
            return
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > MAX_REQUEST:
            await self._answer(send, None, "POST")  # not read: the connection is closed after
            return
        await self._answer(send, await _body(receive), "POST")

    async def _answer(self, send: Send, request: bytes | None, method: str) -> None:
        """The responder's answer to ``request`` (``None``: malformed before parsing)."""
        if request is None:
            der = error_response(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
        else:
            der = await self._respond(request)
        if self.counters is not None:
            self.counters.count_ocsp(ocsp_status(der))
            self.counters.count_request(method, ENDPOINT, 200)
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", OCSP_RESPONSE), (b"content-length", str(len(der)).encode())]})
        await send({"type": "http.response.body", "body": b"" if method == "HEAD" else der})

    async def _respond(self, request: bytes) -> bytes:
        try:
            found = self.responder.from_memory(request)
            if isinstance(found, bytes):
                return found
            if found is not None and (not found.good or not await self.probes.revoked(
                    found.issuer_key_id, found.serial)):
                return found.der
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self.pool, self.responder.respond, request)
        except Exception:  # a broken database or key store: the client hears internalError
            log.exception("OCSP responder failed")
            return error_response(ocsp.OCSPResponseStatus.INTERNAL_ERROR)


@dataclass
class ProbeBatcher:
    """The revocation reads of concurrent requests, batched: one read for all the requests
    that arrived while the previous read ran.

    A request's certificate is looked up by a read that starts after the request arrived, so
    a revocation committed before it is always seen, as with one read per request; under load
    one read serves many answers. The reads run on the pool, one at a time.
    """

    read: Callable[[Sequence[tuple[str, int]]], set[tuple[str, int]]]
    pool: concurrent.futures.Executor
    _waiting: list[tuple[tuple[str, int], asyncio.Future[bool]]] = field(default_factory=list)
    _reading: asyncio.Task[None] | None = None

    async def revoked(self, issuer_key_id: str, serial: int) -> bool:
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bool] = loop.create_future()
        self._waiting.append(((issuer_key_id, serial), answer))
        if self._reading is None:
            self._reading = loop.create_task(self._drain())
        return await answer

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._waiting:
                batch, self._waiting = self._waiting, []
                try:
                    revoked = await loop.run_in_executor(
                        self.pool, self.read, [key for key, _ in batch])
                except Exception as exc:  # each waiting request answers internalError
                    for _, answer in batch:
                        answer.set_exception(exc)
                    continue
                for key, answer in batch:
                    answer.set_result(key in revoked)
        finally:
            self._reading = None


def _from_get(scope: Scope) -> bytes | None:
    """The DER request of ``GET /ocsp/<base64>``, or ``None`` if it is not valid base64.

    uvicorn has URL-decoded the path once; it is decoded again because some clients encode
    twice (``%`` is not a base-64 character, so this never harms a valid request). The raw
    path keeps a ``%2F`` apart from a path separator.
    """
    raw: bytes | None = scope.get("raw_path")
    encoded = raw.decode("latin-1")[len("/ocsp/"):] if raw else scope["path"][len("/ocsp/"):]
    if len(encoded) > 3 * MAX_REQUEST:
        return None
    try:
        return base64.b64decode(unquote(unquote(encoded)), validate=True) or None
    except (binascii.Error, ValueError):
        return None


async def _body(receive: Receive) -> bytes | None:
    """The request body, or ``None`` once it grows past ``MAX_REQUEST`` (chunked uploads)."""
    parts, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_REQUEST:
            return None
        parts.append(chunk)
        if not message.get("more_body"):
            return b"".join(parts)


async def _plain(send: Send, status: int, text: str,
                 extra: list[tuple[bytes, bytes]] | None = None) -> None:
    """A refusal as an RFC 9457 problem document."""
    body = (json.dumps({"status": status, "detail": text}) + "\n").encode()
    await _send(send, status, b"application/problem+json", body, extra)


async def _send(send: Send, status: int, media: bytes, body: bytes,
                extra: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", media), (b"content-length", str(len(body)).encode()),
        *(extra or [])]})
    await send({"type": "http.response.body", "body": body})


@dataclass
class OcspServer:
    """A bound, not yet serving, OCSP front; ``serve_forever`` in a thread, ``stop`` from any."""

    app: OcspApp
    sock: socket.socket
    server: uvicorn.Server
    _thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    @property
    def url(self) -> str:
        host = self.sock.getsockname()[0]
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}/ocsp"

    def serve_forever(self) -> None:
        """Serve on this thread until ``stop`` (or Ctrl-C on the main thread)."""
        self.server.run(sockets=[self.sock])

    def start(self) -> None:
        """``serve_forever`` on a daemon thread."""
        self._thread = threading.Thread(target=self.serve_forever, name="ocsp-front",
                                        daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """End the loop (open connections are closed), then the thread and the pool."""
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self.sock.close()
        self.app.pool.shutdown(wait=False, cancel_futures=True)


def bind(responder: OcspResponder, host: str, port: int,
         counters: Metrics | None = None) -> OcspServer:
    """Bind the front's socket (``port`` 0: any free port); an address in use fails here."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    app = OcspApp(responder, counters)
    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", lifespan="off", access_log=False,
        log_config=None, log_level="warning", timeout_keep_alive=KEEP_ALIVE, server_header=False,
        limit_concurrency=MAX_CONNECTIONS)
    return OcspServer(app, sock, uvicorn.Server(config))
