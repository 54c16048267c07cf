"""Object identifiers of the JPKI-style certificate profile (DESIGN.md §4).

The JPKI arc is ``1.2.392.200149.8.5`` (392 = Japan). Standard identifiers that the profile uses
are re-exported here under profile names so that the rest of ``pki`` has one place to look.
"""

from __future__ import annotations

from cryptography.x509.oid import (
    AuthorityInformationAccessOID,
    ExtendedKeyUsageOID,
    ExtensionOID,
    NameOID,
    ObjectIdentifier,
    SignatureAlgorithmOID,
)

JPKI_ARC = "1.2.392.200149.8.5"

# -- Subject alternative name otherNames of the signing certificate: the basic four ---------------
BASIC_FOUR_ARC = f"{JPKI_ARC}.5"
NAME = ObjectIdentifier(f"{BASIC_FOUR_ARC}.1")  # 氏名, family and given name split by U+3000
NAME_FLAGS = ObjectIdentifier(f"{BASIC_FOUR_ARC}.2")  # 氏名代替文字の使用位置
SEX = ObjectIdentifier(f"{BASIC_FOUR_ARC}.3")  # 性別: 1 male, 2 female, 3 unknown
BIRTH_DATE = ObjectIdentifier(f"{BASIC_FOUR_ARC}.4")  # 生年月日: EYYYYMMDD
ADDRESS = ObjectIdentifier(f"{BASIC_FOUR_ARC}.5")  # 住所, from the prefecture, no postcode
ADDRESS_FLAGS = ObjectIdentifier(f"{BASIC_FOUR_ARC}.6")  # 住所代替文字の使用位置

BASIC_FOUR_OIDS: tuple[ObjectIdentifier, ...] = (
    NAME, NAME_FLAGS, SEX, BIRTH_DATE, ADDRESS, ADDRESS_FLAGS,
)

# -- Certificate policies --------------------------------------------------------------------------
POLICY_SIGNING = ObjectIdentifier(f"{JPKI_ARC}.1.1.20")  # 署名用電子証明書
POLICY_AUTHENTICATION = ObjectIdentifier(f"{JPKI_ARC}.1.3.30")  # 利用者証明用電子証明書

# -- Standard identifiers the profile uses (RFC 5280, RFC 6960) ----------------------------------
SHA256_WITH_RSA = SignatureAlgorithmOID.RSA_WITH_SHA256  # RFC 4055 §5
OCSP = AuthorityInformationAccessOID.OCSP  # RFC 5280 §4.2.2.1
CA_ISSUERS = AuthorityInformationAccessOID.CA_ISSUERS  # RFC 5280 §4.2.2.1
EKU_CLIENT_AUTH = ExtendedKeyUsageOID.CLIENT_AUTH  # RFC 5280 §4.2.1.12
EKU_OCSP_SIGNING = ExtendedKeyUsageOID.OCSP_SIGNING  # RFC 5280 §4.2.1.12
OCSP_NO_CHECK = ExtensionOID.OCSP_NO_CHECK  # RFC 6960 §4.2.2.2.1, id-pkix-ocsp-nocheck

COUNTRY = NameOID.COUNTRY_NAME
ORGANIZATION = NameOID.ORGANIZATION_NAME
ORGANIZATIONAL_UNIT = NameOID.ORGANIZATIONAL_UNIT_NAME
LOCALITY = NameOID.LOCALITY_NAME
COMMON_NAME = NameOID.COMMON_NAME
