"""The basic-four SAN codec: six otherNames, each ``[0] EXPLICIT UTF8String``."""

from __future__ import annotations

from datetime import date

import pytest
from asn1crypto import x509 as asn1_x509
from asn1crypto.core import UTF8String
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from pki import oids
from pki.basic_four import BasicFour, BasicFourError, Sex, decode, encode
from pki.charset import in_certificate_set
from pki.eras import Era, PartialDate

IN_SET = [chr(cp) for cp in range(0x3000, 0x10000) if in_certificate_set(chr(cp))]

SAMPLE = BasicFour.from_register(
    "髙橋", "太郎", Sex.MALE, PartialDate.of(date(1975, 3, 15)), "埼玉県所沢市並木1-1-1"
)


def _other_name(oid: x509.ObjectIdentifier, value_der: bytes) -> x509.OtherName:
    return x509.OtherName(oid, value_der)


def _utf8(text: str) -> bytes:
    body = text.encode()
    assert len(body) < 0x80
    return bytes([0x0C, len(body)]) + body


def _san_with(replace: dict[x509.ObjectIdentifier, bytes | None]) -> x509.SubjectAlternativeName:
    """SAMPLE's SAN with some values replaced (raw DER) or removed (None)."""
    names = []
    for oid, value in SAMPLE.values().items():
        der = replace.get(oid, _utf8(value))
        if der is not None:
            names.append(_other_name(oid, der))
    return x509.SubjectAlternativeName(names)


def test_from_register_joins_the_name_with_an_ideographic_space_and_flags_it() -> None:
    assert SAMPLE.name == "高橋\u3000太郎"
    assert SAMPLE.name_flags == "10000"
    assert SAMPLE.address == "埼玉県所沢市並木１−１−１"
    assert SAMPLE.address_flags == "0" * len(SAMPLE.address)


def test_a_name_without_given_name_has_no_separator() -> None:
    value = BasicFour.from_register("ＳＭＩＴＨ", "", 3, PartialDate.unknown(), "東京都")
    assert value.name == "ＳＭＩＴＨ"
    assert value.sex is Sex.UNKNOWN


def test_the_values_are_in_profile_order_with_the_era_date_code() -> None:
    values = SAMPLE.values()
    assert list(values) == list(oids.BASIC_FOUR_OIDS)
    assert values[oids.SEX] == "1"
    assert values[oids.BIRTH_DATE] == "319750315"


def test_encoded_san_parses_in_asn1crypto_as_explicit_utf8_strings() -> None:
    der = encode(SAMPLE).public_bytes()
    parsed = asn1_x509.GeneralNames.load(der)
    got = {}
    for general_name in parsed:
        assert general_name.name == "other_name"
        value = general_name.chosen["value"].parsed
        assert type(value).__name__ == "UTF8String"
        got[general_name.chosen["type_id"].dotted] = value.native
    assert got == {oid.dotted_string: text for oid, text in SAMPLE.values().items()}
    # the [0] EXPLICIT wrapper is there: A0 len 0C len …
    assert bytes.fromhex("a0") + bytes([len(_utf8("1"))]) + _utf8("1") in der


def test_encoding_is_byte_identical_to_asn1crypto_s() -> None:
    names = asn1_x509.GeneralNames([
        asn1_x509.GeneralName(
            name="other_name",
            value={"type_id": oid.dotted_string, "value": UTF8String(text, explicit=0)},
        )
        for oid, text in SAMPLE.values().items()
    ])
    assert names.dump() == encode(SAMPLE).public_bytes()


_set_text = st.text(alphabet=st.sampled_from(IN_SET), min_size=1, max_size=40)


@st.composite
def basic_fours(draw: st.DrawFn) -> BasicFour:
    name = draw(_set_text)
    address = draw(_set_text)
    precision = draw(st.sampled_from(["day", "month", "year", "era", "none"]))
    day = draw(st.dates(min_value=date(1868, 10, 23), max_value=date(2100, 12, 31)))
    birth = {
        "day": PartialDate.of(day),
        "month": PartialDate(None, day.year, day.month),
        "year": PartialDate(None, day.year),
        "era": PartialDate.unknown(draw(st.sampled_from(list(Era)))),
        "none": PartialDate.unknown(),
    }[precision]
    flags = st.text(alphabet="01", min_size=1, max_size=1)
    return BasicFour(
        name, "".join(draw(flags) for _ in name), draw(st.sampled_from(list(Sex))), birth,
        address, "".join(draw(flags) for _ in address),
    )


@given(basic_fours())
def test_round_trip(value: BasicFour) -> None:
    assert decode(encode(value)) == value


# A register name is never blank (whitespace-only text is refused by design).
@given(st.text(min_size=1, max_size=60).filter(lambda t: t.isprintable() and t.strip()))
def test_any_register_text_becomes_an_encodable_basic_four(text: str) -> None:
    value = BasicFour.from_register(text, text, 2, PartialDate.unknown(), text + "1")
    assert decode(encode(value)) == value


def test_long_values_use_long_form_lengths() -> None:
    value = BasicFour("高" * 100, "0" * 100, Sex.FEMALE, PartialDate.unknown(), "住" * 256,
                      "1" * 256)
    assert decode(encode(value)) == value


@pytest.mark.parametrize(
    ("replace", "message"),
    [
        ({oids.SEX: None}, "missing"),
        ({oids.NAME: b"\x16\x02ab"}, "not a UTF8String"),  # IA5String
        ({oids.NAME: _utf8("山田") + b"\x00"}, "length"),  # trailing byte
        ({oids.NAME: b"\x0c\x81\x03abc"}, "non-minimal"),
        ({oids.NAME: b"\x0c\x80"}, "malformed length"),
        ({oids.NAME: b"\x0c\x02\xff\xfe"}, "UTF-8"),
        ({oids.NAME: _utf8("髙")}, "outside"),
        ({oids.NAME_FLAGS: _utf8("1")}, "flags"),
        ({oids.ADDRESS_FLAGS: _utf8("x" * 13)}, "flags"),
        ({oids.SEX: _utf8("4")}, "sex"),
        ({oids.SEX: _utf8("01")}, "sex"),
        ({oids.BIRTH_DATE: _utf8("3195003XX")}, "birth date"),
        ({oids.BIRTH_DATE: _utf8("519750315")}, "birth date"),  # Reiwa in 1975
        ({oids.BIRTH_DATE: _utf8("019750315")}, "canonical"),  # the era is known
        ({oids.BIRTH_DATE: _utf8("319750230")}, "birth date"),
        ({oids.ADDRESS: _utf8("")}, "address"),
    ],
)
def test_malformed_input_is_refused(
    replace: dict[x509.ObjectIdentifier, bytes | None], message: str
) -> None:
    with pytest.raises(BasicFourError, match=message):
        decode(_san_with(replace))


def test_a_duplicate_is_refused() -> None:
    san = _san_with({})
    doubled = x509.SubjectAlternativeName([*san, _other_name(oids.SEX, _utf8("2"))])
    with pytest.raises(BasicFourError, match="twice"):
        decode(doubled)


@pytest.mark.parametrize(
    "extra",
    [
        x509.DNSName("example.jp"),
        x509.OtherName(x509.ObjectIdentifier("1.2.392.200149.8.5.5.7"), _utf8("x")),
    ],
)
def test_foreign_entries_are_refused(extra: x509.GeneralName) -> None:
    with pytest.raises(BasicFourError, match="unexpected"):
        decode(x509.SubjectAlternativeName([*_san_with({}), extra]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sex": 4}, "sex"),
        ({"name": "髙橋"}, "outside"),
        ({"name": ""}, "name"),
        ({"name": "高" * 129, "name_flags": "0" * 129}, "name"),
        ({"name_flags": "0"}, "flags"),
        ({"address": "A1"}, "outside"),  # ASCII is folded by from_register, never stored
        ({"birth_date": "319750315"}, "PartialDate"),
    ],
)
def test_the_constructor_refuses_invalid_values(kwargs: dict[str, object], message: str) -> None:
    fields = {
        "name": SAMPLE.name, "name_flags": SAMPLE.name_flags, "sex": SAMPLE.sex,
        "birth_date": SAMPLE.birth_date, "address": SAMPLE.address,
        "address_flags": SAMPLE.address_flags,
    }
    fields.update(kwargs)
    if "address" in kwargs:
        fields["address_flags"] = "0" * len(str(kwargs["address"]))
    with pytest.raises(BasicFourError, match=message):
        BasicFour(**fields)  # type: ignore[arg-type]


def test_from_register_refuses_an_unknown_sex() -> None:
    with pytest.raises(BasicFourError, match="sex"):
        BasicFour.from_register("山田", "花子", 9, PartialDate.unknown(), "東京都")
