"""The card side of the vpcd protocol, against a fake vpcd on loopback (the real one: interop)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from pki.card.jpki_app import ATR
from pki.card.vpcd import Control, VpcdError, answer, frame, serve

SELECT_AP = bytes.fromhex("00A4040C0AD392F000260100000001")
TIMEOUT = 10.0


@dataclass
class FakeCard:
    """Records what reaches the card; answers every APDU with its own bytes + 90 00."""

    apdus: list[bytes] = field(default_factory=list)
    resets: int = 0

    def transmit(self, apdu: bytes) -> bytes:
        self.apdus.append(apdu)
        return apdu + b"\x90\x00"

    def reset(self) -> None:
        self.resets += 1


class FakeVpcd:
    """A listening socket that plays vpcd: it accepts the card and sends raw bytes."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(TIMEOUT)
        self.port: int = self.listener.getsockname()[1]

    def accept(self) -> socket.socket:
        conn, _ = self.listener.accept()
        conn.settimeout(TIMEOUT)
        return conn

    @staticmethod
    def read_frame(conn: socket.socket) -> bytes:
        def exactly(n: int) -> bytes:
            data = b""
            while len(data) < n:
                chunk = conn.recv(n - len(data))
                assert chunk, "the card closed the connection"
                data += chunk
            return data

        return exactly(int.from_bytes(exactly(2), "big"))


@pytest.fixture
def vpcd() -> Iterator[FakeVpcd]:
    fake = FakeVpcd()
    yield fake
    fake.listener.close()


@pytest.fixture
def running(vpcd: FakeVpcd) -> Iterator[tuple[FakeCard, threading.Event]]:
    card, stop = FakeCard(), threading.Event()
    thread = threading.Thread(target=serve, args=(card, "127.0.0.1", vpcd.port, stop),
                              kwargs={"retry_interval": 0.01}, daemon=True)
    thread.start()
    yield card, stop
    stop.set()
    thread.join(TIMEOUT)
    assert not thread.is_alive(), "serve() did not notice the stop event"


def test_only_the_atr_request_is_answered() -> None:
    card = FakeCard()
    assert answer(card, bytes([Control.ATR])) == ATR
    assert answer(card, bytes([Control.ON])) is None
    assert answer(card, bytes([Control.OFF])) is None
    assert answer(card, bytes([Control.RESET])) is None
    assert card.resets == 2 and card.apdus == []


def test_longer_messages_are_apdus() -> None:
    card = FakeCard()
    assert answer(card, SELECT_AP) == SELECT_AP + b"\x90\x00"
    assert card.apdus == [SELECT_AP]


def test_a_frame_is_a_big_endian_length_and_the_body() -> None:
    assert frame(ATR) == b"\x00\x09" + ATR
    assert frame(b"\x01" * 300)[:2] == b"\x01\x2c"
    with pytest.raises(VpcdError):
        frame(b"\x00" * 65536)


def test_the_card_answers_over_the_socket(
    vpcd: FakeVpcd, running: tuple[FakeCard, threading.Event]
) -> None:
    card, _ = running
    with vpcd.accept() as conn:
        conn.sendall(frame(bytes([Control.ON])) + frame(bytes([Control.ATR])))
        assert vpcd.read_frame(conn) == ATR
        conn.sendall(frame(SELECT_AP))
        assert vpcd.read_frame(conn) == SELECT_AP + b"\x90\x00"
    assert card.apdus == [SELECT_AP]


def test_frames_arriving_byte_by_byte_are_read_until_complete(
    vpcd: FakeVpcd, running: tuple[FakeCard, threading.Event]
) -> None:
    card, _ = running
    with vpcd.accept() as conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in frame(SELECT_AP):  # as vpcd does: length and body in separate writes
            conn.sendall(bytes([byte]))
        assert vpcd.read_frame(conn) == SELECT_AP + b"\x90\x00"
    assert card.apdus == [SELECT_AP]


def test_the_card_reconnects_and_is_powered_down_when_the_reader_leaves(
    vpcd: FakeVpcd, running: tuple[FakeCard, threading.Event]
) -> None:
    card, _ = running
    with vpcd.accept() as conn:
        conn.sendall(frame(bytes([Control.ATR])))
        assert vpcd.read_frame(conn) == ATR
    with vpcd.accept() as conn:  # the card comes back by itself
        conn.sendall(frame(bytes([Control.ATR])))
        assert vpcd.read_frame(conn) == ATR
    assert card.resets >= 1  # powered down after the first connection ended


def test_serve_waits_for_vpcd_and_stops_on_request() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]  # closed again: nothing listens there now
    stop = threading.Event()
    thread = threading.Thread(target=serve, args=(FakeCard(), "127.0.0.1", port, stop),
                              kwargs={"retry_interval": 0.01}, daemon=True)
    thread.start()
    stop.set()
    thread.join(TIMEOUT)
    assert not thread.is_alive()
