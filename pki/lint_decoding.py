"""A certificate decoded for pkilint, with the parts a CA repeats decoded once.

pkilint decodes a whole certificate with pyasn1 (through pyasn1-fasder) before its validators
run: about 0.5 ms, most of it spent building pyasn1 objects. A CA's certificates repeat most of
their parts byte for byte: the version, the signature algorithms, the issuer, the subject's
place names and most extensions. ``CertificateDecoder`` splits the DER into those parts,
decodes each distinct part once, with the schema objects pkilint's own decoding uses, and
assembles the certificate from them as pyasn1's decoder does (a clone of the schema, cleared,
then filled by position). The validity's two times are kept too: certificates issued in the
same second share notBefore, and a day's certificates of a kind share notAfter. Parts that
differ in every certificate (serial number, the key's BIT STRING, signature value) are decoded
each time and not kept. The DER encoding of a kept part, which pkilint compares for the two
signature algorithms, is likewise computed once (``encoding``).

Sharing decoded parts between certificates is safe:

- pkilint never changes a decoded value. Its node tree reads every component once when it is
  built, and pyasn1 then fills in a default that was absent (an extension's criticality,
  say). A shared part is therefore in the same state whether it is fresh or reused.
- ``tests/unit/test_lint_speed.py`` compares the result, node tree and pyasn1 state alike,
  with pkilint's own loader, on every certificate type of the profile and on broken ones.

Anything the split does not expect gets ``None``, and the caller uses pkilint's loader, which
decodes or refuses the certificate whole. That covers another shape, a length DER forbids, a
version other than v3, unique identifiers, an empty name, no extensions, and a part that fails
to decode.
"""

from __future__ import annotations

from typing import Any

from pyasn1.codec.der.encoder import encode
from pyasn1.type.univ import SequenceOf
from pyasn1_alt_modules import rfc5280
from pyasn1_fasder import decode_der

_FILL = {"verifyConstraints": False, "matchTags": False, "matchConstraints": False}
_V3 = bytes.fromhex("a003020102")  # [0] EXPLICIT INTEGER 2
_SEQUENCE, _SET, _INTEGER, _BIT_STRING = 0x30, 0x31, 0x02, 0x03
_VERSION_TAG, _EXTENSIONS_TAG = 0xA0, 0xA3

_CERTIFICATE = rfc5280.Certificate()
_TBS = _CERTIFICATE.componentType.getTypeByPosition(0)
_TBS_TYPES = _TBS.componentType
_NAME = _TBS_TYPES.getTypeByPosition(3)
_RDN_SEQUENCE = _NAME.componentType.getTypeByPosition(0)
_EXTENSIONS = _TBS_TYPES.getTypeByPosition(9)
_VALIDITY = _TBS_TYPES.getTypeByPosition(4)
_SPKI = _TBS_TYPES.getTypeByPosition(6)
_UTC_TIME, _GENERALIZED_TIME = 0x17, 0x18

# TBSCertificate: the tag and the schema position of each element expected, in order
# (version, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo,
# extensions; no issuerUniqueID nor subjectUniqueID).
_TBS_TAGS = (_VERSION_TAG, _INTEGER, _SEQUENCE, _SEQUENCE, _SEQUENCE, _SEQUENCE, _SEQUENCE,
             _EXTENSIONS_TAG)
_TBS_POSITIONS = (0, 1, 2, 3, 4, 5, 6, 9)
_SHARED = frozenset({0, 2})  # version and signature algorithm: kept (names, extensions too)
_ISSUER, _VALIDITY_AT, _SUBJECT, _SPKI_AT, _EXTENSIONS_AT = 3, 4, 5, 6, 9


class _NotExpected(Exception):
    """The DER is not of the shape the split handles: pkilint's loader decodes it."""


Element = tuple[int, int, int, int]  # tag, start of the element, start of its contents, end


def _element(der: bytes, pos: int, end: int) -> Element:
    """The DER element at ``pos`` (one-byte tag, definite minimal length, within ``end``)."""
    if pos + 2 > end:
        raise _NotExpected
    tag, first, start = der[pos], der[pos + 1], pos + 2
    if tag & 0x1F == 0x1F:  # a tag number in more bytes: not split here
        raise _NotExpected
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if not 1 <= count <= 3 or start + count > end or der[start] == 0:
            raise _NotExpected
        length = int.from_bytes(der[start:start + count], "big")
        if length < 0x80:
            raise _NotExpected
        start += count
    if start + length > end:
        raise _NotExpected
    return tag, pos, start, start + length


def _elements(der: bytes, start: int, end: int) -> list[Element]:
    """The elements that exactly fill ``der[start:end]``."""
    found = []
    while start < end:
        element = _element(der, start, end)
        found.append(element)
        start = element[3]
    return found


def _tagged(elements: list[Element], tags: tuple[int, ...]) -> list[Element]:
    if tuple(e[0] for e in elements) != tags:
        raise _NotExpected
    return elements


class CertificateDecoder:
    """``decode_der(der, rfc5280.Certificate())``, with repeated parts decoded once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit  # kept parts; all forgotten when exceeded
        self._parts: dict[tuple[int, bytes], Any] = {}
        self._kept: dict[int, Any] = {}  # the kept parts by id, for ``encoding``
        self._encodings: dict[int, bytes] = {}

    def decode(self, der: bytes) -> Any | None:
        """The certificate's pyasn1 value, or ``None`` where pkilint's loader must decode."""
        try:
            return self._certificate(der)
        except Exception:  # _NotExpected, pyasn1's errors: pkilint's loader decides
            return None

    def _certificate(self, der: bytes) -> Any:
        tag, _, start, end = _element(der, 0, len(der))
        if tag != _SEQUENCE or end != len(der):
            raise _NotExpected
        tbs, algorithm, signature = _tagged(_elements(der, start, end),
                                            (_SEQUENCE, _SEQUENCE, _BIT_STRING))
        certificate = _empty(_CERTIFICATE)
        certificate.setComponentByPosition(0, self._tbs(der, tbs), **_FILL)
        certificate.setComponentByPosition(1, self._part(
            _CERTIFICATE.componentType.getTypeByPosition(1), der[algorithm[1]:algorithm[3]]),
            **_FILL)
        certificate.setComponentByPosition(2, _decode(
            _CERTIFICATE.componentType.getTypeByPosition(2), der[signature[1]:signature[3]]),
            **_FILL)
        return certificate

    def _tbs(self, der: bytes, tbs: Element) -> Any:
        value = _empty(_TBS)
        elements = _tagged(_elements(der, tbs[2], tbs[3]), _TBS_TAGS)
        for position, (_, begin, start, end) in zip(_TBS_POSITIONS, elements, strict=True):
            if position in (_ISSUER, _SUBJECT):
                part = self._name(der, start, end)
            elif position == _VALIDITY_AT:
                part = self._validity(der, start, end)
            elif position == _SPKI_AT:
                part = self._spki(der, start, end)
            elif position == _EXTENSIONS_AT:
                part = self._extensions(der, start, end)
            elif position == 0 and der[begin:end] != _V3:
                raise _NotExpected
            else:
                schema = _TBS_TYPES.getTypeByPosition(position)
                part = (self._part(schema, der[begin:end]) if position in _SHARED
                        else _decode(schema, der[begin:end]))
            value.setComponentByPosition(position, part, **_FILL)
        return value

    def _name(self, der: bytes, start: int, end: int) -> Any:
        name = _NAME.clone()  # a CHOICE: the decoder does not clear it
        name.setComponentByPosition(0, self._items(_RDN_SEQUENCE, der, start, end, _SET),
                                    **_FILL)
        return name

    def _validity(self, der: bytes, start: int, end: int) -> Any:
        """notBefore and notAfter, each time kept: a CA issues many certificates in a second,
        and all of a day's certificates of a kind share notAfter (14:59:59Z)."""
        times = _elements(der, start, end)
        if len(times) != 2 or any(t not in (_UTC_TIME, _GENERALIZED_TIME) for t, *_ in times):
            raise _NotExpected
        return self._filled(_VALIDITY, [
            self._part(_VALIDITY.componentType.getTypeByPosition(i), der[begin:stop])
            for i, (_, begin, _, stop) in enumerate(times)])

    def _spki(self, der: bytes, start: int, end: int) -> Any:
        """The key's algorithm kept, its BIT STRING decoded alone."""
        (_, a_begin, _, a_end), (_, k_begin, _, k_end) = _tagged(
            _elements(der, start, end), (_SEQUENCE, _BIT_STRING))
        types = _SPKI.componentType
        return self._filled(_SPKI, [
            self._part(types.getTypeByPosition(0), der[a_begin:a_end]),
            _decode(types.getTypeByPosition(1), der[k_begin:k_end])])

    def _extensions(self, der: bytes, start: int, end: int) -> Any:
        (_, _, inner, stop), = _tagged(_elements(der, start, end), (_SEQUENCE,))
        return self._items(_EXTENSIONS, der, inner, stop, _SEQUENCE)

    def _items(self, schema: Any, der: bytes, start: int, end: int, tag: int | None) -> Any:
        """The SEQUENCE OF ``schema`` whose items fill ``der[start:end]`` (each of ``tag``,
        unless None), each item's kept decoding; ``_NotExpected`` for no item."""
        items = _elements(der, start, end)
        if not items or (tag is not None and any(t != tag for t, *_ in items)):
            raise _NotExpected
        return self._filled(schema, [self._part(schema.componentType, der[begin:stop])
                                     for _, begin, _, stop in items])

    @staticmethod
    def _filled(schema: Any, components: list[Any]) -> Any:
        """A value of ``schema`` with these components by position, as the decoder fills it."""
        value = _empty(schema)
        for i, component in enumerate(components):
            value.setComponentByPosition(i, component, **_FILL)
        return value

    def _part(self, schema: Any, substrate: bytes) -> Any:
        """The value of ``substrate`` under ``schema``, decoded once and kept."""
        key = (id(schema), substrate)
        value = self._parts.get(key)
        if value is None:
            value = _decode(schema, substrate)
            if len(self._parts) >= self.limit:
                self._parts.clear()
                self._kept.clear()
                self._encodings.clear()
            self._parts[key] = value
            self._kept[id(value)] = value
        return value

    def sequence_of(self, schema: Any, substrate: bytes) -> Any | None:
        """``decode_der(substrate, schema)`` for a SEQUENCE OF ``schema``, each item decoded once
        and kept (a subject alternative name's otherNames, say); ``None`` where pkilint's own
        decoding must decode or refuse it (not a SEQUENCE OF, another shape, no item)."""
        if not isinstance(schema, SequenceOf):
            return None
        try:
            tag, _, start, end = _element(substrate, 0, len(substrate))
            if tag != _SEQUENCE or end != len(substrate):
                return None
            return self._items(schema, substrate, start, end, None)
        except Exception:  # _NotExpected, pyasn1's errors: pkilint's decoding decides
            return None

    def is_kept(self, value: Any) -> bool:
        """Whether ``value`` is one of the kept parts (shared between certificates)."""
        return self._kept.get(id(value)) is value

    def encoding(self, value: Any) -> bytes:
        """pyasn1's DER encoding of ``value``, computed once for a kept part (never changed)."""
        if not self.is_kept(value):
            return bytes(encode(value))
        found = self._encodings.get(id(value))
        if found is None:
            found = self._encodings[id(value)] = bytes(encode(value))
        return found


def _decode(schema: Any, substrate: bytes) -> Any:
    return decode_der(substrate, asn1Spec=schema)[0]


_EMPTY: dict[int, tuple[Any, dict[str, Any]]] = {}  # by schema id: (schema, an empty value's state)


def _empty(schema: Any) -> Any:
    """``schema.clone().clear()``: an empty value of a constructed schema, made from the state
    such a value has (every attribute the same, the components new and empty), about four
    times faster."""
    found = _EMPTY.get(id(schema))
    if found is None or found[0] is not schema:
        value = schema.clone()
        value.clear()
        found = _EMPTY[id(schema)] = (schema, dict(vars(value)))
    state = dict(found[1])
    state["_componentValues"] = type(state["_componentValues"])()
    if "_dynamicNames" in state:
        state["_dynamicNames"] = type(state["_dynamicNames"])()
    value = object.__new__(type(schema))
    vars(value).update(state)  # not ``__dict__ =``: pyasn1's __setattr__ would keep it as a key
    return value
