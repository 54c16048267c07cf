"""The JSON API, version 1: signature verification for receiving agencies.

``POST /api/v1/verify`` takes one of

- an XML submission (``application/xml`` or ``text/xml``): every enveloped signature;
- a PDF (``application/pdf``): every approval signature;
- ``multipart/form-data`` with a detached CMS ``signature`` and the signed ``content`` (each a
  file part or a text field).

``GET /api/v1/certificates/<issuer>/<serial>/status`` is the status of one certificate (the
resident's self-check, and agencies'): the facts of ``revocation.status_lookup``, the same that
``jpki status --json`` prints, with no personal data. The issuer is a CA generation's name
(``sign-1``) or key id; the serial is decimal or ``0x`` hex. An unknown issuer or a serial never
issued is a 404 problem, a malformed serial a 400 problem.

``GET /api/v1/openapi.json`` is the OpenAPI document of the API (``web.openapi``).

``verify`` answers the report of ``pki.verify`` as JSON with HTTP 200 whatever the indication: a
failed signature is a verdict, not an HTTP error. A document that cannot be judged is a 400
problem. Every answered report carries, as its last key ``receipt``, the service's signed
receipt of the submission (base64 DER CMS, ``web.receipts``); the receipt's ``report_sha256``
is the SHA-256 of the body without that key (``,"receipt":"…"`` removed before the final ``}``).

Registered verifiers (``revocation.verifiers``) send their API key as ``Authorization: Bearer
<key>`` or ``X-API-Key: <key>``:

- to ``verify``, optionally: an active verifier of an entitled kind then gets each signature's
  basic four as the signing certificate carries them (``basic_four``); a suspended or
  non-entitled verifier gets the report without them; a key that is not a registered
  verifier's is a 401 problem (so that a typo is noticed rather than silently ignored);
- to ``POST /api/v1/basic-four/latest`` with ``{"issuer": …, "serial": …}`` naming a revoked
  signing certificate, always: the holder's current basic four from the national server, if
  the holder consented. 401 without a valid key; 403 for a suspended or non-entitled verifier or
  a holder who has not consented; 404 for an unknown issuer or certificate; 409 for a
  certificate that is not a revoked signing certificate. Every answer and refusal is in the
  holder's disclosure and in the verifier log.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request

from pki.signing import MalformedDocument
from pki.verify import Report, verify_cms, verify_pdf, verify_xml
from revocation import verifiers
from revocation.errors import InvalidRequest, UnknownCertificate, VerifierUnauthorized
from revocation.service import CertStatus
from revocation.status_lookup import find_issuer, look_up, parse_serial
from revocation.verifiers import LatestBasicFour, Verifier
from web.app import services
from web.errors import problem
from web.evidence import OwnEvidence, trust_store
from web.openapi import document
from web.receipts import Receipts, Submission, with_receipt

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")

XML_TYPES = frozenset({"application/xml", "text/xml"})
PDF_TYPE = "application/pdf"
MULTIPART = "multipart/form-data"
RECEIPTS = "jpki.receipts"  # app.extensions key of the app's receipt signer
MAX_ISSUER = 80


@blueprint.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API (``web.openapi``)."""
    return Response(json.dumps(document(), ensure_ascii=False), mimetype="application/json")


@blueprint.get("/certificates/<issuer>/<serial>/status")
def certificate_status(issuer: str, serial: str) -> Response:
    """The status of one certificate: 200 with its facts, 400 or 404 problems."""
    number = parse_serial(serial)  # a malformed serial is a 400, whatever the issuer
    side = services()
    generation = find_issuer(side.revocation.directory, issuer)
    facts = look_up(side.revocation.service, side.clock, generation, number)
    if facts.status is CertStatus.UNKNOWN:
        raise UnknownCertificate(f"{generation.name} issued no certificate with serial {serial}")
    response = Response(json.dumps(facts.to_json()), mimetype="application/json")
    response.headers["Cache-Control"] = "no-cache"  # the answer changes when it is revoked
    return response


@blueprint.errorhandler(VerifierUnauthorized)
def unauthorised(exc: VerifierUnauthorized) -> Response:
    """401 with the challenge RFC 9110 §11.6.1 asks for."""
    answer = problem(401, exc.message, kind="verifier-unauthorized")
    answer.headers["WWW-Authenticate"] = 'Bearer realm="jpki-verifiers"'
    return answer


@blueprint.post("/verify")
def verify() -> Response:
    """Verify a signed document; 200 with the JSON report and its receipt, or a problem."""
    verifier = _verifier(required=False)
    mimetype = request.mimetype
    if mimetype in XML_TYPES or mimetype == PDF_TYPE:
        data = request.get_data(cache=False)
        if not data:
            raise MalformedDocument("the request body is empty")
        return _report(verifier, Submission(data), pdf=mimetype == PDF_TYPE)
    if mimetype == MULTIPART:
        signature = _part("signature")
        content = _part("content")
        return _report(verifier, Submission(content, signature), pdf=False)
    return problem(415, f"send {', '.join(sorted(XML_TYPES))}, {PDF_TYPE} or {MULTIPART} "
                        "with the parts signature and content")


@blueprint.post("/basic-four/latest")
def latest_basic_four() -> Response:
    """A revoked signing certificate's holder's current basic four, for a registered verifier
    with the holder's consent (最新の基本4情報の提供)."""
    verifier = _verifier(required=True)
    assert verifier is not None
    issuer, serial = _certificate_named(request.get_json(silent=True))
    answer = services().revocation.latest_basic_four.answer(verifier, issuer, serial)
    response = Response(json.dumps(_latest_json(answer), ensure_ascii=False),
                        mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"  # personal data
    return response


def _api_key() -> str | None:
    """The key of ``Authorization: Bearer`` or ``X-API-Key`` (both: they must agree). Another
    Authorization scheme (a proxy's Basic, say) is not ours and carries no key."""
    header = request.headers.get("X-API-Key", "").strip() or None
    scheme, _, token = request.headers.get("Authorization", "").strip().partition(" ")
    bearer = (token.strip() or None) if scheme.lower() == "bearer" else None
    if header and bearer and header != bearer:
        raise VerifierUnauthorized("Authorization and X-API-Key carry different keys")
    return header or bearer


def _verifier(*, required: bool) -> Verifier | None:
    key = _api_key()
    if key is None:
        if required:
            raise VerifierUnauthorized("this service is for registered verifiers: send the "
                                       "API key as Authorization: Bearer <key> or X-API-Key")
        return None
    side = services()
    return verifiers.authenticate(side.sessions, side.clock, key)


def _certificate_named(body: Any) -> tuple[str, int]:
    """``{"issuer": name or key id, "serial": decimal or 0x hex}``, nothing else."""
    if not isinstance(body, dict):
        raise InvalidRequest('send a JSON object {"issuer": …, "serial": …} '
                             "(Content-Type: application/json)")
    unknown = sorted(set(body) - {"issuer", "serial"})
    if unknown:
        raise InvalidRequest(f"unknown keys: {', '.join(k[:40] for k in unknown[:5])}")
    issuer, serial = body.get("issuer"), body.get("serial")
    if not isinstance(issuer, str) or not 0 < len(issuer) <= MAX_ISSUER:
        raise InvalidRequest("issuer: a CA generation's name (sign-1 …) or its key id",
                             field="issuer")
    if not isinstance(serial, str):
        raise InvalidRequest("serial: a string of decimal digits, or 0x and hex digits",
                             field="serial")
    return issuer, parse_serial(serial)


def _latest_json(answer: LatestBasicFour) -> dict[str, Any]:
    four = answer.basic_four
    return {
        "issuer": answer.issuer.name,
        "issuer_key_id": answer.issuer.key_id,
        "serial": str(answer.serial),
        "revoked_at": _iso(answer.revoked_at),
        "reason": answer.reason.value,
        "basic_four": {"name": four.name, "birth_date": four.birth_date, "sex": four.sex,
                       "address": four.address},
        "provided_at": _iso(answer.provided_at),
    }


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _part(name: str) -> bytes:
    """A multipart part, as a file or as a text field."""
    upload = request.files.get(name)
    if upload is not None:
        return upload.read()
    field = request.form.get(name)
    if field is None:
        raise MalformedDocument(f"the multipart body has no {name!r} part")
    return field.encode("utf-8")


def _receipts() -> Receipts:
    found = current_app.extensions.get(RECEIPTS)
    if not isinstance(found, Receipts):
        side = services()
        found = current_app.extensions.setdefault(
            RECEIPTS, Receipts(side.ca, side.keys, side.clock))
    assert isinstance(found, Receipts)
    return found


def _report(verifier: Verifier | None, submission: Submission, *, pdf: bool) -> Response:
    side = services()
    trust = trust_store(side.ca)
    evidence = OwnEvidence(side.revocation)
    at = side.clock.now()
    report: Report
    if submission.signature is not None:
        report = verify_cms(submission.signature, submission.document, trust=trust,
                            evidence=evidence, at=at)
    elif pdf:
        report = verify_pdf(submission.document, trust=trust, evidence=evidence, at=at)
    else:
        report = verify_xml(submission.document, trust=trust, evidence=evidence, at=at)
    entitled = verifier is not None and verifier.may_see_basic_four
    body = report.to_json(include_basic_four=entitled).encode("utf-8")
    if verifier is not None:
        signers = [(s.signer.issuer_key_id, s.signer.serial) for s in report.signatures
                   if s.signer is not None and s.basic_four is not None]
        verifiers.record_report(side.sessions, side.clock, verifier, signers,
                                included=entitled)
    receipt = _receipts().issue(submission, report, body)
    return Response(with_receipt(body, receipt), mimetype="application/json")
