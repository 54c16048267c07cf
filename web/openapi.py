"""The OpenAPI 3.1 document of the JSON API, served at ``GET /api/v1/openapi.json``.

Written as Python data next to the code it describes, so that the enumerations (indications,
sub-indications, media types, the report's schema name) come from the modules that produce them
and cannot drift. It covers ``POST /api/v1/verify`` and its report (``jpki-verification-report/1``,
see ``pki.verify.report``), ``GET /api/v1/certificates/{issuer}/{serial}/status`` (see
``revocation.status_lookup``), card login (``/api/v1/auth/…``, see
``web.blueprints.api_auth``), the latest basic four for registered verifiers
(``/api/v1/basic-four/latest``, see ``revocation.verifiers``), the document itself, and the
operations endpoints ``/healthz`` and ``/metrics``. Errors are RFC 9457 problem documents
(``application/problem+json``).
"""

from __future__ import annotations

import copy
import functools
from importlib import metadata
from typing import Any

from cryptography.x509 import ReasonFlags

from pki.verify.report import SCHEMA, Indication, SubIndication
from revocation.service import CertStatus
from revocation.status_lookup import SERIAL_PATTERN
from web.receipts import SCHEMA as RECEIPT_SCHEMA

OPENAPI_VERSION = "3.1.0"
PATH = "/api/v1/openapi.json"
PROBLEM = "application/problem+json"

_REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": _REF + name}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [{"type": "null"}, schema]}


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": _ref("Problem")}}}


_TIME = {"type": "string", "format": "date-time"}
_HEX = {"type": "string", "pattern": "^[0-9a-f]+$"}
_SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
_BINARY = {"type": "string", "format": "binary"}


def _schemas() -> dict[str, Any]:
    indications = [i.value for i in Indication]
    return {
        "VerificationReport": {
            "type": "object",
            "description": "The verdict on every signature of one document, in the vocabulary "
                           "of ETSI EN 319 102-1. Keys are never removed or renamed within "
                           "schema version 1; new optional keys may appear. The served "
                           "report ends with `receipt`, the service's signed receipt of the "
                           "submission: its `report_sha256` is the SHA-256 of the body with "
                           "`,\"receipt\":\"…\"` removed before the final `}`.",
            "required": ["schema", "format", "validation_time", "indication", "signatures"],
            "properties": {
                "schema": {"const": SCHEMA},
                "format": {"enum": ["xml", "cms", "pdf"]},
                "validation_time": _TIME,
                "indication": {"enum": indications},
                "signatures": {"type": "array", "items": _ref("SignatureReport")},
                "receipt": {"type": "string", "contentEncoding": "base64",
                            "contentMediaType": "application/pkcs7-mime",
                            "description": "The receipt (受付結果): a CMS SignedData (DER, "
                                           "base64) whose attached content is a JSON "
                                           f"`{RECEIPT_SCHEMA}` document (receipt_id, "
                                           "received_at, format, document_sha256, "
                                           "signature_sha256, report_sha256, indication, and "
                                           "per signature index, issuer, issuer_key_id, "
                                           "serial, indication, sub_indication), signed by "
                                           "the service's certificate (embedded) issued by "
                                           "the signing CA's current generation: `openssl cms "
                                           "-verify -CAfile <signing root> -inform DER` checks "
                                           "it."},
            },
        },
        "SignatureReport": {
            "type": "object",
            "required": ["index", "indication", "sub_indication", "message", "signer",
                         "signed_data_digest", "revocation"],
            "properties": {
                "index": {"type": "integer", "minimum": 0,
                          "description": "Position of the signature in the document, from 0."},
                "indication": {"enum": indications},
                "sub_indication": {"enum": [None, *(s.value for s in SubIndication)],
                                   "description": "null exactly when the indication is "
                                                  "TOTAL_PASSED."},
                "message": {"type": "string"},
                "signer": _nullable(_ref("Signer")),
                "signed_data_digest": _nullable(_ref("SignedDataDigest")),
                "revocation": {"type": "array", "items": _ref("Evidence")},
                "basic_four": _nullable(_ref("BasicFour")),
            },
        },
        "Signer": {
            "type": "object",
            "required": ["subject", "issuer", "serial", "issuer_key_id", "not_before",
                         "not_after", "sha256"],
            "properties": {
                "subject": {"type": "string", "description": "RFC 4514."},
                "issuer": {"type": "string", "description": "RFC 4514."},
                "serial": {"type": "string", "pattern": "^[0-9]+$",
                           "description": "Decimal, as a string."},
                "issuer_key_id": _nullable(_HEX),
                "not_before": _TIME,
                "not_after": _TIME,
                "sha256": _SHA256,
            },
        },
        "SignedDataDigest": {
            "type": "object",
            "required": ["algorithm", "value"],
            "properties": {"algorithm": {"const": "sha256"}, "value": _SHA256},
        },
        "Evidence": {
            "type": "object",
            "description": "Revocation evidence about the signer's certificate (our own OCSP "
                           "responses and CRLs; nothing is fetched from elsewhere).",
            "required": ["type", "produced_at", "this_update", "next_update", "cert_status",
                         "revoked_at", "reason", "sha256"],
            "properties": {
                "type": {"enum": ["ocsp", "crl"]},
                "produced_at": _TIME,
                "this_update": _TIME,
                "next_update": _nullable(_TIME),
                "cert_status": {"enum": ["good", "revoked", "unknown"]},
                "revoked_at": _nullable(_TIME),
                "reason": _nullable({"type": "string"}),
                "sha256": _SHA256,
            },
        },
        "BasicFour": {
            "type": "object",
            "description": "The signer's basic four as the signing certificate carries "
                           "them (SAN otherNames under 1.2.392.200149.8.5.5; birth_date is "
                           "EYYYYMMDD, the flags mark substituted characters). Present, "
                           "null for a certificate without them, only when the request "
                           "carried the API key of an active registered verifier of an "
                           "entitled kind (national, local or certified); absent otherwise.",
            "properties": {
                "name": {"type": "string"}, "name_flags": {"type": "string"},
                "sex": {"enum": [1, 2, 3]}, "birth_date": {"type": "string"},
                "address": {"type": "string"}, "address_flags": {"type": "string"},
            },
        },
        "CertificateStatus": {
            "type": "object",
            "description": "What the revocation service says about one certificate: the "
                           "facts of a CRL or an OCSP response, and its expiry. No personal "
                           "data. `jpki status --json` prints the same object.",
            "required": ["issuer", "issuer_key_id", "serial", "status", "revoked_at",
                         "reason", "invalidity_date", "not_after", "expired", "checked_at"],
            "properties": {
                "issuer": {"type": "string",
                           "description": "The CA generation's name, as in /ca/{name}.cer."},
                "issuer_key_id": _HEX,
                "serial": {"type": "string", "pattern": "^[0-9]+$",
                           "description": "Decimal, as a string."},
                "status": {"enum": [s.value for s in CertStatus],
                           "description": "`unknown` (never issued) is answered by this API "
                                          "as a 404 problem; `revoked` includes "
                                          "certificateHold."},
                "revoked_at": _nullable(_TIME),
                "reason": _nullable({"enum": [r.value for r in ReasonFlags],
                                     "description": "RFC 5280 CRLReason."}),
                "invalidity_date": _nullable(_TIME),
                "not_after": _nullable({**_TIME,
                                        "description": "null only when status is unknown."}),
                "expired": {"type": "boolean",
                            "description": "not_after is at or before checked_at."},
                "checked_at": _TIME,
            },
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details.",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "checks"],
            "properties": {
                "status": {"enum": ["ok", "degraded"]},
                "checks": {
                    "type": "object",
                    "required": ["database", "ca_keys", "tier_lag"],
                    "additionalProperties": _ref("HealthCheck"),
                },
            },
        },
        "HealthCheck": {
            "type": "object",
            "required": ["status", "detail"],
            "properties": {
                "status": {"enum": ["ok", "fail"]},
                "detail": {"type": "string"},
                "oldest_pending_seconds": {"type": "number", "minimum": 0},
                "limit_seconds": {"type": "number", "minimum": 0},
            },
        },
    }


def _verify() -> dict[str, Any]:
    multipart = {
        "type": "object",
        "required": ["signature", "content"],
        "properties": {
            "signature": {**_BINARY, "description": "The detached CMS signature (DER or "
                                                    "PEM), as a file part or a text field."},
            "content": {**_BINARY, "description": "The signed content."},
        },
    }
    return {
        "post": {
            "operationId": "verify",
            "summary": "Verify a signed document",
            "description": "An e-Tax-style XML submission (every enveloped signature), a PDF "
                           "(every signature) or a detached CMS signature with its content. "
                           "The answer is the report, with HTTP 200 whatever its indication: a "
                           "failed signature is a verdict, not an HTTP error. A document that "
                           "cannot be judged is a 400 problem. Bodies are limited to 10 MB. "
                           "A registered verifier may send its API key (optional): an active "
                           "verifier of an entitled kind then receives each signer's basic "
                           "four; every report carries the service's signed receipt.",
            "tags": ["verification"],
            "security": [{}, *_VERIFIER],
            "requestBody": {
                "required": True,
                "content": {
                    "application/xml": {"schema": _BINARY},
                    "text/xml": {"schema": _BINARY},
                    "application/pdf": {"schema": _BINARY},
                    "multipart/form-data": {"schema": multipart},
                },
            },
            "responses": {
                "200": {"description": "The verification report.",
                        "content": {"application/json": {
                            "schema": _ref("VerificationReport")}}},
                "400": _problem("The document cannot be judged (not XML, not a signed PDF, "
                                "no signature, a missing multipart part …)."),
                "401": _problem("An API key was sent that is not a registered verifier's "
                                "(WWW-Authenticate: Bearer)."),
                "413": _problem("The body is larger than the limit."),
                "415": _problem("Another media type than the four accepted ones."),
            },
        },
    }


_VERIFIER: list[dict[str, list[str]]] = [{"verifierKey": []}, {"verifierApiKey": []}]


def _latest_basic_four() -> dict[str, Any]:
    return {
        "post": {
            "operationId": "latestBasicFour",
            "summary": "The latest basic four of a revoked signing certificate's holder",
            "description": "最新の基本4情報の提供: for a signing certificate revoked after a "
                           "change of the holder's basic four (or for any other cause), the "
                           "holder's current name, birth date, sex and address from the "
                           "national server. Only for an active registered verifier of an "
                           "entitled kind, and only if the holder has consented (at the "
                           "counter or on the portal). Every answer and refusal is logged in "
                           "the holder's provision disclosure and in the verifier log.",
            "tags": ["verifiers"],
            "security": _VERIFIER,
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _ref("CertificateName")}}},
            "responses": {
                "200": {"description": "The holder's current basic four.",
                        "content": {"application/json": {"schema": _ref("LatestBasicFour")}}},
                "400": _problem("The body is not {\"issuer\", \"serial\"}, or the serial is "
                                "malformed."),
                "401": _problem("No API key, or not a registered verifier's "
                                "(WWW-Authenticate: Bearer)."),
                "403": _problem("The verifier is suspended or not entitled, or the holder "
                                "has not consented."),
                "404": _problem("No such CA generation, or it never issued this serial."),
                "409": _problem("Not a revoked signing certificate (not revoked, or not a "
                                "signing certificate), or the holder is unknown to the "
                                "national server."),
            },
        },
    }


def _verifier_schemas() -> dict[str, Any]:
    return {
        "CertificateName": {
            "type": "object", "required": ["issuer", "serial"], "additionalProperties": False,
            "properties": {
                "issuer": {"type": "string", "minLength": 1, "maxLength": 80,
                           "pattern": "^[A-Za-z0-9-]+$",
                           "description": "A CA generation's name (sign-1 …) or key id."},
                "serial": {"type": "string", "pattern": SERIAL_PATTERN,
                           "description": "Decimal digits, or 0x followed by hex digits."},
            },
        },
        "LatestBasicFour": {
            "type": "object",
            "required": ["issuer", "issuer_key_id", "serial", "revoked_at", "reason",
                         "basic_four", "provided_at"],
            "properties": {
                "issuer": {"type": "string"},
                "issuer_key_id": _HEX,
                "serial": {"type": "string", "pattern": "^[0-9]+$"},
                "revoked_at": _TIME,
                "reason": {"enum": [r.value for r in ReasonFlags],
                           "description": "RFC 5280 CRLReason of the revocation."},
                "basic_four": {
                    "type": "object", "required": ["name", "birth_date", "sex", "address"],
                    "properties": {
                        "name": {"type": "string",
                                 "description": "Family and given name, split by U+3000."},
                        "birth_date": {"type": "string", "pattern": "^[0-5][0-9]{8}$",
                                       "description": "EYYYYMMDD: era digit (1 Meiji … 5 "
                                                      "Reiwa, 0 unknown), Gregorian date."},
                        "sex": {"enum": [1, 2, 3]},
                        "address": {"type": "string"},
                    },
                },
                "provided_at": _TIME,
            },
        },
    }


def _certificate_status() -> dict[str, Any]:
    return {
        "get": {
            "operationId": "certificateStatus",
            "summary": "Status of one certificate",
            "description": "good, or revoked with the time, RFC 5280 reason and invalidity "
                           "date, as our CRLs and OCSP responder say, plus the certificate's "
                           "expiry; for residents checking their own certificate and for "
                           "agencies.",
            "tags": ["revocation"],
            "parameters": [
                {"name": "issuer", "in": "path", "required": True,
                 "description": "A CA generation's name (sign-1, auth-1 …, as in "
                                "/ca/{name}.cer) or its key id (hex).",
                 "schema": {"type": "string", "pattern": "^[A-Za-z0-9-]+$"}},
                {"name": "serial", "in": "path", "required": True,
                 "description": "The serial number: decimal digits, or 0x followed by hex "
                                "digits (at most 20 octets).",
                 "schema": {"type": "string", "pattern": SERIAL_PATTERN}},
            ],
            "responses": {
                "200": {"description": "The status.",
                        "content": {"application/json": {
                            "schema": _ref("CertificateStatus")}}},
                "400": _problem("The serial is malformed."),
                "404": _problem("No such CA generation, or it never issued this serial."),
            },
        },
    }


_NO_SESSION = _problem("No such session, it ended, or its certificate is no longer good "
                       "(WWW-Authenticate: Bearer).")


def _auth_challenge() -> dict[str, Any]:
    return {
        "post": {
            "operationId": "authChallenge",
            "summary": "A single-use challenge for card login",
            "description": "The client has the card's authentication key sign `message` "
                           "(SHA-256, RSASSA-PKCS1-v1_5) after the holder's 4-digit PIN, then "
                           "posts the result to /api/v1/auth/response before `expires_at`. "
                           "No request body.",
            "tags": ["authentication"],
            "responses": {
                "201": {"description": "The challenge.",
                        "content": {"application/json": {"schema": _ref("AuthChallenge")}}},
                "503": _problem("Too many pending challenges; try later."),
            },
        },
    }


def _auth_response() -> dict[str, Any]:
    return {
        "post": {
            "operationId": "authResponse",
            "summary": "Answer a challenge and open a session",
            "description": "Checks that the challenge was issued here, is unexpired and "
                           "unused (it is spent by this answer), the signature over its "
                           "message, that our authentication CA issued the certificate, and "
                           "that it is neither expired, revoked nor on hold.",
            "tags": ["authentication"],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": _ref("SignedChallenge")}}},
            "responses": {
                "201": {"description": "A session, naming only the certificate.",
                        "content": {"application/json": {"schema": _ref("AuthSession")}}},
                "400": _problem("The body is not a signed challenge."),
                "401": _problem("Refused: unknown, used or expired challenge, bad signature, "
                                "or a certificate that is not ours or not good."),
                "413": _problem("The body is too large."),
                "503": _problem("Too many open sessions; try later."),
            },
        },
    }


def _auth_session() -> dict[str, Any]:
    bearer: list[dict[str, list[str]]] = [{"session": []}]
    return {
        "get": {
            "operationId": "authSession",
            "summary": "The session of a bearer token",
            "tags": ["authentication"],
            "security": bearer,
            "responses": {
                "200": {"description": "The session is open and its certificate good.",
                        "content": {"application/json": {"schema": _ref("AuthSessionState")}}},
                "401": _NO_SESSION,
            },
        },
        "delete": {
            "operationId": "authLogout",
            "summary": "End the session",
            "tags": ["authentication"],
            "security": bearer,
            "responses": {"204": {"description": "Ended."}, "401": _NO_SESSION},
        },
    }


def _auth_schemas() -> dict[str, Any]:
    certificate = {"type": "object", "required": ["issuer", "serial"], "properties": {
        "issuer": {"type": "string", "description": "The CA generation's name."},
        "serial": {"type": "string", "pattern": "^[0-9]+$"}}}
    return {
        "AuthChallenge": {
            "type": "object", "required": ["challenge", "origin", "message", "expires_at"],
            "properties": {"challenge": {"type": "string"}, "origin": {"type": "string"},
                           "message": {"type": "string",
                                       "description": "The exact text to sign (ASCII)."},
                           "expires_at": _TIME},
        },
        "SignedChallenge": {
            "type": "object", "required": ["code", "certificate", "signature"],
            "properties": {
                "code": {"type": "string", "description": "The challenge."},
                "certificate": {"type": "string",
                                "description": "The authentication certificate: base64 DER "
                                               "or PEM."},
                "signature": {"type": "string", "description": "Base64."},
                "origin": {"type": "string",
                           "description": "The origin signed for (informational)."},
            },
        },
        "AuthSession": {
            "type": "object", "required": ["session", "expires_in", "certificate"],
            "properties": {"session": {"type": "string",
                                       "description": "Bearer token of the session."},
                           "expires_in": {"type": "integer",
                                          "description": "Seconds of idleness that end it."},
                           "certificate": certificate},
        },
        "AuthSessionState": {
            "type": "object", "required": ["certificate", "opened_at", "expires_in"],
            "properties": {"certificate": certificate, "opened_at": _TIME,
                           "expires_in": {"type": "integer"}},
        },
    }


def _openapi_path() -> dict[str, Any]:
    return {
        "get": {
            "operationId": "openapi",
            "summary": "This document",
            "tags": ["meta"],
            "responses": {"200": {"description": "The OpenAPI document of the API.",
                                  "content": {"application/json": {
                                      "schema": {"type": "object",
                                                 "required": ["openapi", "info", "paths"]}}}}},
        },
    }


def _healthz() -> dict[str, Any]:
    health = {"application/json": {"schema": _ref("Health")}}
    return {
        "get": {
            "operationId": "healthz",
            "summary": "Health of the instance",
            "description": "The database is reachable, both CA keys are loaded and match their "
                           "certificates, and no identity event waits between tiers longer "
                           "than the limit.",
            "tags": ["operations"],
            "responses": {"200": {"description": "Healthy.", "content": health},
                          "503": {"description": "Degraded: see the failed checks.",
                                  "content": health}},
        },
    }


def _metrics() -> dict[str, Any]:
    return {
        "get": {
            "operationId": "metrics",
            "summary": "Metrics in the Prometheus text format 0.0.4",
            "description": "jpki_http_requests_total, jpki_ocsp_responses_total, "
                           "jpki_tier_events_pending, jpki_tier_oldest_pending_seconds, "
                           "jpki_revocations_total, jpki_crl_next_update_seconds.",
            "tags": ["operations"],
            "responses": {"200": {"description": "Content-Type: text/plain; version=0.0.4.",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}},
        },
    }


@functools.cache
def _document() -> dict[str, Any]:
    try:
        version = metadata.version("jpki")
    except metadata.PackageNotFoundError:
        version = "0"
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "jpki API",
            "version": version,
            "description": "Signature verification for receiving agencies, certificate "
                           "status, and the service's operations endpoints. The repository "
                           "(CRLs, CA certificates, OCSP) speaks DER under /crl, /ca and "
                           "/ocsp (RFC 5280, RFC 6960) and is not described here.",
        },
        "tags": [{"name": "verification"}, {"name": "verifiers"}, {"name": "revocation"},
                 {"name": "authentication"}, {"name": "meta"}, {"name": "operations"}],
        "paths": {
            "/api/v1/verify": _verify(),
            "/api/v1/basic-four/latest": _latest_basic_four(),
            "/api/v1/certificates/{issuer}/{serial}/status": _certificate_status(),
            "/api/v1/auth/challenge": _auth_challenge(),
            "/api/v1/auth/response": _auth_response(),
            "/api/v1/auth/session": _auth_session(),
            PATH: _openapi_path(),
            "/healthz": _healthz(),
            "/metrics": _metrics(),
        },
        "components": {
            "schemas": {**_schemas(), **_auth_schemas(), **_verifier_schemas()},
            "securitySchemes": {
                "session": {"type": "http", "scheme": "bearer",
                            "description": "The session of /api/v1/auth/response."},
                "verifierKey": {"type": "http", "scheme": "bearer",
                                "description": "A registered verifier's API key "
                                               "(`jpki verifier register`)."},
                "verifierApiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                                   "description": "The same key in X-API-Key."},
            },
        },
    }


def document() -> dict[str, Any]:
    """The OpenAPI document (a fresh copy: callers may change it)."""
    return copy.deepcopy(_document())
