"""The basic four (基本4情報) as the signing certificate carries them: the SAN codec.

DESIGN.md §4: six otherNames under ``1.2.392.200149.8.5.5``, each value ``[0] EXPLICIT
UTF8String``. ``cryptography.x509.OtherName(type_id, value)`` takes as ``value`` the DER of the
inner UTF8String and adds the ``[0] EXPLICIT`` wrapper itself, so this module encodes and reads
exactly one DER UTF8String per otherName.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum

from cryptography import x509

from pki import oids
from pki.charset import is_certificate_text, to_certificate_text
from pki.eras import DateError, PartialDate

NAME_SEPARATOR = "\u3000"  # between family and given name
MAX_NAME = 128  # project limits that keep a certificate small; no register name comes close
MAX_ADDRESS = 256
_UTF8_STRING = 0x0C


class BasicFourError(ValueError):
    """A basic four that cannot go into, or was not correctly read from, a certificate."""


class Sex(IntEnum):
    """Sex as coded in the certificate; same values as the register's ``Sex``."""

    MALE = 1
    FEMALE = 2
    UNKNOWN = 3


@dataclass(frozen=True)
class BasicFour:
    """The certificate's basic four: text already in the certificate set, with its flags."""

    name: str
    name_flags: str
    sex: Sex
    birth_date: PartialDate
    address: str
    address_flags: str

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "sex", Sex(self.sex))
        except ValueError as exc:
            raise BasicFourError(f"sex must be 1, 2 or 3, not {self.sex!r}") from exc
        _check_text("name", self.name, self.name_flags, MAX_NAME)
        _check_text("address", self.address, self.address_flags, MAX_ADDRESS)
        if not isinstance(self.birth_date, PartialDate):
            raise BasicFourError("birth_date must be a PartialDate")

    @classmethod
    def from_register(
        cls,
        family_name: str,
        given_name: str,
        sex: Sex | int,
        birth_date: PartialDate,
        address: str,
        readings: Mapping[str, str] | None = None,
    ) -> BasicFour:
        """Build it from register values, converting the text into the certificate set.

        ``given_name`` may be empty (then no separator is written); ``readings`` maps characters
        outside the set to their katakana reading (see ``pki.charset``).
        """
        family, family_flags = to_certificate_text(family_name.strip(), readings)
        given, given_flags = to_certificate_text(given_name.strip(), readings)
        if given:
            name, name_flags = family + NAME_SEPARATOR + given, family_flags + "0" + given_flags
        else:
            name, name_flags = family, family_flags
        text, text_flags = to_certificate_text(address.strip(), readings)
        try:
            code = Sex(sex)
        except ValueError as exc:
            raise BasicFourError(f"sex must be 1, 2 or 3, not {sex!r}") from exc
        return cls(name, name_flags, code, birth_date, text, text_flags)

    def values(self) -> dict[x509.ObjectIdentifier, str]:
        """The six otherName values by OID, in profile order."""
        return {
            oids.NAME: self.name,
            oids.NAME_FLAGS: self.name_flags,
            oids.SEX: str(int(self.sex)),
            oids.BIRTH_DATE: self.birth_date.code,
            oids.ADDRESS: self.address,
            oids.ADDRESS_FLAGS: self.address_flags,
        }


def _check_text(what: str, text: str, flags: str, limit: int) -> None:
    if not text or len(text) > limit:
        raise BasicFourError(f"the {what} must have 1 to {limit} characters")
    if not is_certificate_text(text):
        raise BasicFourError(f"the {what} {text!r} has characters outside JIS X 0208/0212")
    if len(flags) != len(text) or set(flags) - {"0", "1"}:
        raise BasicFourError(f"the {what} flags must be one 0 or 1 per character")


# -- DER of one UTF8String ------------------------------------------------------------------------

def _utf8_string_der(text: str) -> bytes:
    body = text.encode("utf-8")
    n = len(body)
    if n < 0x80:
        length = bytes([n])
    else:
        octets = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(octets)]) + octets
    return bytes([_UTF8_STRING]) + length + body


def _read_utf8_string(der: bytes, what: str) -> str:
    """Read one DER UTF8String and nothing else; refuse BER forms and trailing bytes."""
    if len(der) < 2 or der[0] != _UTF8_STRING:
        raise BasicFourError(f"the {what} is not a UTF8String")
    first = der[1]
    if first < 0x80:
        length, start = first, 2
    else:
        count = first & 0x7F
        octets = der[2:2 + count]
        if count == 0 or count > 4 or len(octets) != count or octets[0] == 0:
            raise BasicFourError(f"the {what} has a malformed length")
        length, start = int.from_bytes(octets, "big"), 2 + count
        if length < 0x80:
            raise BasicFourError(f"the {what} has a non-minimal length (not DER)")
    if len(der) != start + length:
        raise BasicFourError(f"the {what} length does not match its content")
    try:
        return der[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BasicFourError(f"the {what} is not valid UTF-8") from exc


# -- the codec -----------------------------------------------------------------------------------

def encode(basic_four: BasicFour) -> x509.SubjectAlternativeName:
    """The subject alternative name carrying the basic four as six otherNames."""
    return x509.SubjectAlternativeName(
        [x509.OtherName(oid, _utf8_string_der(value))
         for oid, value in basic_four.values().items()]
    )


_WHAT = {
    oids.NAME: "name", oids.NAME_FLAGS: "name flags", oids.SEX: "sex",
    oids.BIRTH_DATE: "birth date", oids.ADDRESS: "address", oids.ADDRESS_FLAGS: "address flags",
}


def decode(source: x509.SubjectAlternativeName | x509.Certificate) -> BasicFour:
    """Read the basic four back; refuse anything but exactly the six expected otherNames."""
    if isinstance(source, x509.Certificate):
        try:
            source = source.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound as exc:
            raise BasicFourError("the certificate has no subject alternative name") from exc
        except ValueError as exc:  # a malformed extension
            raise BasicFourError(f"the certificate extensions cannot be read: {exc}") from exc
    found: dict[x509.ObjectIdentifier, str] = {}
    for general_name in source:
        if not isinstance(general_name, x509.OtherName) or general_name.type_id not in _WHAT:
            raise BasicFourError(f"unexpected subject alternative name {general_name!r}")
        what = _WHAT[general_name.type_id]
        if general_name.type_id in found:
            raise BasicFourError(f"the {what} appears twice")
        found[general_name.type_id] = _read_utf8_string(general_name.value, what)
    missing = [_WHAT[oid] for oid in oids.BASIC_FOUR_OIDS if oid not in found]
    if missing:
        raise BasicFourError(f"missing from the subject alternative name: {', '.join(missing)}")
    sex = found[oids.SEX]
    if sex not in ("1", "2", "3"):
        raise BasicFourError(f"sex must be 1, 2 or 3, not {sex!r}")
    try:
        birth_date = PartialDate.from_code(found[oids.BIRTH_DATE])
    except DateError as exc:
        raise BasicFourError(f"the birth date is malformed: {exc}") from exc
    if birth_date.code != found[oids.BIRTH_DATE]:
        raise BasicFourError(f"the birth date {found[oids.BIRTH_DATE]!r} is not canonical")
    return BasicFour(found[oids.NAME], found[oids.NAME_FLAGS], Sex(int(sex)), birth_date,
                     found[oids.ADDRESS], found[oids.ADDRESS_FLAGS])
