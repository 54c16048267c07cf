"""The card side of the vsmartcard virtual reader protocol: a virtual card in ``vpcd``'s slot.

``vpcd`` (Debian package ``vsmartcard-vpcd``) is a PC/SC reader driver loaded by ``pcscd``. It
listens on a TCP port (35963 by default) and treats whoever connects as the card in its slot, so
PC/SC clients (OpenSC, browsers' PKCS#11 modules, pyhanko) talk to our card unmodified.

Wire protocol, in both directions: a 2-byte big-endian length, then that many bytes. From the
reader, a 1-byte message is a control code (``00`` power off, ``01`` power on, ``02`` reset,
``04`` "send the ATR"); only ``04`` is answered, with the ATR. Any longer message is a command
APDU, answered with response data + SW1 SW2. Frames may arrive in pieces and are read until
complete.

Connection handling: the card connects to the reader (vpcd listens). When vpcd is not there yet,
or closes the connection (pcscd stopped or restarted), the card is powered down (verification
state cleared, as when a physical card leaves the reader) and :func:`serve` connects again every
``retry_interval`` seconds until ``stop`` is set.

Security: the protocol has no authentication, and whoever runs the reader can send APDUs to the
card (PIN tries stay limited by the card itself). Connect only to a vpcd on this machine; vpcd
itself listens on every interface, so run ``pcscd`` in a private network namespace.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from enum import IntEnum
from typing import Protocol

from pki.card.apdu import CardError
from pki.card.jpki_app import ATR

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 35963  # vpcd's port (0x8C7B, the CHANNELID of /etc/reader.conf.d/vpcd)
_POLL_SECONDS = 0.2  # how often a blocked receive looks at the stop event

log = logging.getLogger(__name__)


class Control(IntEnum):
    """One-byte control messages from vpcd (vsmartcard's ``VPCD_CTRL_*``)."""

    OFF = 0x00
    ON = 0x01
    RESET = 0x02
    ATR = 0x04


class VpcdError(CardError):
    """The virtual reader connection failed or broke the protocol."""


class Slot(Protocol):
    """What a card in the reader must offer (:class:`~pki.card.jpki_app.VirtualCard` does)."""

    def transmit(self, apdu: bytes) -> bytes: ...

    def reset(self) -> None: ...


def answer(card: Slot, message: bytes, atr: bytes = ATR) -> bytes | None:
    """The card's reply to one message from the reader, or None when none is due."""
    if len(message) != 1:
        return card.transmit(message)
    code = message[0]
    if code == Control.ATR:
        return atr
    if code in (Control.OFF, Control.RESET):
        card.reset()
    elif code != Control.ON:
        log.warning("unknown vpcd control code %02X ignored", code)
    return None


def frame(body: bytes) -> bytes:
    """One protocol message: 2-byte big-endian length, then the body."""
    if len(body) > 0xFFFF:
        raise VpcdError("a vpcd message carries at most 65535 bytes")
    return len(body).to_bytes(2, "big") + body


class _Connection:
    """A connected socket that reads whole frames and notices ``stop`` while waiting."""

    def __init__(self, sock: socket.socket, stop: threading.Event) -> None:
        self._sock, self._stop, self._buffer = sock, stop, bytearray()

    def _fill(self, size: int) -> bool:
        """Read until ``size`` bytes are buffered; False when stopped or the reader left."""
        while len(self._buffer) < size:
            if self._stop.is_set():
                return False
            if sys.platform == "linux":
                # vpcd writes the length and the body separately; without an immediate ACK
                # the second write waits for our delayed ACK (~40 ms). Linux clears
                # QUICKACK by itself, so it is set again before every receive.
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            try:
                chunk = self._sock.recv(max(size - len(self._buffer), 4096))
            except TimeoutError:
                continue
            if not chunk:
                return False
            self._buffer += chunk
        return True

    def receive(self) -> bytes | None:
        """The next complete message, or None when stopped or disconnected."""
        if not self._fill(2):
            return None
        length = int.from_bytes(self._buffer[:2], "big")
        if not self._fill(2 + length):
            return None
        message = bytes(self._buffer[2 : 2 + length])
        del self._buffer[: 2 + length]
        return message

    def send(self, body: bytes) -> None:
        self._sock.sendall(frame(body))  # one write: length and body travel together


def _connect(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=_POLL_SECONDS * 5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.settimeout(_POLL_SECONDS)
    return sock


def run_session(card: Slot, sock: socket.socket, stop: threading.Event, atr: bytes = ATR) -> int:
    """Answer the reader on one connection until it closes or ``stop`` is set; count APDUs."""
    connection, apdus = _Connection(sock, stop), 0
    while (message := connection.receive()) is not None:
        if not message:
            raise VpcdError("empty vpcd message")
        reply = answer(card, message, atr)
        if len(message) > 1:
            apdus += 1
        if reply is not None:
            connection.send(reply)
    return apdus


def serve(
    card: Slot,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    stop: threading.Event | None = None,
    *,
    atr: bytes = ATR,
    retry_interval: float = 0.5,
) -> None:
    """Keep ``card`` in vpcd's slot at ``host:port`` until ``stop`` is set (forever without one).

    Connection failures are not errors: the card waits ``retry_interval`` seconds and connects
    again, so the server may start before ``pcscd`` and survives its restarts. A protocol error
    from the reader closes the connection and is logged; the card is powered down each time.
    """
    stop = threading.Event() if stop is None else stop
    announced = False
    while not stop.is_set():
        try:
            sock = _connect(host, port)
        except OSError as exc:
            if not announced:
                log.info("waiting for vpcd at %s:%d (%s)", host, port, exc)
                announced = True
            stop.wait(retry_interval)
            continue
        log.info("card inserted into vpcd at %s:%d", host, port)
        announced = False
        try:
            with sock:
                apdus = run_session(card, sock, stop, atr)
            log.info("card removed from vpcd after %d APDUs", apdus)
        except (OSError, VpcdError) as exc:
            log.warning("vpcd connection lost: %s", exc)
        finally:
            card.reset()  # out of the reader: nothing stays selected or verified
        stop.wait(retry_interval)
