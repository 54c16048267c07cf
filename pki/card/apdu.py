"""Command and response APDUs (ISO/IEC 7816-4 §5) and the status words of the JPKI application.

Short and extended lengths are both parsed. ``Command.le`` holds Ne, the number of bytes the
terminal accepts: a short Le byte ``00`` means 256 and an extended Le ``00 00`` means 65536.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class CardError(Exception):
    """Base of every error raised by the virtual card package."""


class SW(IntEnum):
    """Status words this card answers (ISO/IEC 7816-4 §5.6)."""

    OK = 0x9000
    END_OF_FILE = 0x6282  # fewer bytes than Ne before the end of the EF
    MEMORY_FAILURE = 0x6581  # the image could not be written; nothing was granted
    WRONG_LENGTH = 0x6700
    INCOMPATIBLE_FILE = 0x6981  # the current EF is not of the kind the command needs
    SECURITY_STATUS_NOT_SATISFIED = 0x6982
    AUTH_METHOD_BLOCKED = 0x6983  # the PIN is locked
    NO_CURRENT_EF = 0x6986
    WRONG_DATA = 0x6A80
    NOT_FOUND = 0x6A82  # file or application not found
    INCORRECT_P1P2 = 0x6A86
    OFFSET_OUTSIDE_EF = 0x6B00
    INS_NOT_SUPPORTED = 0x6D00
    CLA_NOT_SUPPORTED = 0x6E00


def tries_left_sw(tries: int) -> int:
    """``63 Cx``: verification failed or was only queried, x tries left (``63 C0`` = locked)."""
    return 0x63C0 | tries


class MalformedApdu(CardError):
    """The bytes are not a well-formed command APDU (the card answers ``67 00``)."""


@dataclass(frozen=True)
class Command:
    """A command APDU; ``le`` is Ne (1..65536) or None when the command expects no data."""

    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    le: int | None = None

    def encode(self) -> bytes:
        """Encode with short lengths where they suffice, else extended lengths."""
        header = bytes((self.cla, self.ins, self.p1, self.p2))
        extended = len(self.data) > 255 or (self.le is not None and self.le > 256)
        if not extended:
            body = bytes((len(self.data),)) + self.data if self.data else b""
            if self.le is not None:
                body += bytes((self.le % 256,))
            return header + body
        body = b"\x00" + len(self.data).to_bytes(2) + self.data if self.data else b"\x00"
        if self.le is not None:
            body += (self.le % 65536).to_bytes(2)
        return header + body

    @classmethod
    def parse(cls, raw: bytes) -> Command:
        """Parse the four ISO cases in their short and extended forms."""
        if len(raw) < 4:
            raise MalformedApdu("an APDU has at least four header bytes")
        cla, ins, p1, p2 = raw[:4]
        body = raw[4:]
        data, le = b"", None
        if len(body) == 1:  # case 2S
            le = body[0] or 256
        elif len(body) > 1 and body[0] != 0:  # cases 3S and 4S
            lc = body[0]
            data, rest = body[1 : 1 + lc], body[1 + lc :]
            if len(data) != lc or len(rest) > 1:
                raise MalformedApdu("Lc does not match the data")
            le = (rest[0] or 256) if rest else None
        elif len(body) == 3:  # case 2E
            le = int.from_bytes(body[1:3]) or 65536
        elif len(body) > 3:  # cases 3E and 4E
            lc = int.from_bytes(body[1:3])
            data, rest = body[3 : 3 + lc], body[3 + lc :]
            if lc == 0 or len(data) != lc or len(rest) not in (0, 2):
                raise MalformedApdu("extended Lc does not match the data")
            le = (int.from_bytes(rest) or 65536) if rest else None
        elif body:
            raise MalformedApdu("truncated extended length")
        return cls(cla, ins, p1, p2, bytes(data), le)


@dataclass(frozen=True)
class Response:
    """A response APDU: data followed by the two status bytes."""

    data: bytes
    sw: int

    def encode(self) -> bytes:
        return self.data + self.sw.to_bytes(2)

    @classmethod
    def parse(cls, raw: bytes) -> Response:
        if len(raw) < 2:
            raise MalformedApdu("a response has at least the two status bytes")
        return cls(raw[:-2], int.from_bytes(raw[-2:]))


class StatusError(CardError):
    """The card answered a status word other than ``90 00``."""

    def __init__(self, sw: int, message: str = "") -> None:
        self.sw = sw
        super().__init__(message or f"card answered {sw:04X}")


class WrongPin(StatusError):
    """``63 Cx`` after VERIFY: the PIN was wrong; ``tries_left`` attempts remain."""

    def __init__(self, sw: int) -> None:
        self.tries_left = sw & 0x0F
        super().__init__(sw, f"wrong PIN: {self.tries_left} tries left")


class PinLocked(StatusError):
    """``69 83``: the PIN is locked; only the issuing counter can reset it."""

    def __init__(self, sw: int = SW.AUTH_METHOD_BLOCKED) -> None:
        super().__init__(sw, "PIN locked: it can be reset only at the counter")


class SecurityStatusNotSatisfied(StatusError):
    """``69 82``: the command needs a PIN that has not been verified since selection."""

    def __init__(self, sw: int = SW.SECURITY_STATUS_NOT_SATISFIED) -> None:
        super().__init__(sw, "security status not satisfied: verify the PIN first")


class FileNotFound(StatusError):
    """``6A 82``: no such application or file (e.g. a certificate not yet installed)."""

    def __init__(self, sw: int = SW.NOT_FOUND) -> None:
        super().__init__(sw, "file or application not found")


def check(response: Response) -> bytes:
    """Return the response data, or raise the error its status word means."""
    sw = response.sw
    if sw == SW.OK:
        return response.data
    if sw & 0xFFF0 == 0x63C0:
        raise WrongPin(sw)
    if sw == SW.AUTH_METHOD_BLOCKED:
        raise PinLocked(sw)
    if sw == SW.SECURITY_STATUS_NOT_SATISFIED:
        raise SecurityStatusNotSatisfied(sw)
    if sw == SW.NOT_FOUND:
        raise FileNotFound(sw)
    raise StatusError(sw)
