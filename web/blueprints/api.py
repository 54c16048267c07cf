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
problem.

The signer's basic four are never included yet: they are for registered verifiers whose holder
consented (issue 5), which needs the verifier registry and consent records; until then the
report carries no personal data beyond the certificate's issuer and serial.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, request

from pki.signing import MalformedDocument
from pki.verify import Report, verify_cms, verify_pdf, verify_xml
from revocation.errors import UnknownCertificate
from revocation.service import CertStatus
from revocation.status_lookup import find_issuer, look_up, parse_serial
from web.app import services
from web.errors import problem
from web.evidence import OwnEvidence, trust_store
from web.openapi import document

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")

XML_TYPES = frozenset({"application/xml", "text/xml"})
PDF_TYPE = "application/pdf"
MULTIPART = "multipart/form-data"


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


@blueprint.post("/verify")
def verify() -> Response:
    """Verify a signed document; 200 with the JSON report, or a 4xx problem."""
    mimetype = request.mimetype
    if mimetype in XML_TYPES or mimetype == PDF_TYPE:
        data = request.get_data(cache=False)
        if not data:
            raise MalformedDocument("the request body is empty")
        return _report(data, None, pdf=mimetype == PDF_TYPE)
    if mimetype == MULTIPART:
        signature = _part("signature")
        content = _part("content")
        return _report(signature, content, pdf=False)
    return problem(415, f"send {', '.join(sorted(XML_TYPES))}, {PDF_TYPE} or {MULTIPART} "
                        "with the parts signature and content")


def _part(name: str) -> bytes:
    """A multipart part, as a file or as a text field."""
    upload = request.files.get(name)
    if upload is not None:
        return upload.read()
    field = request.form.get(name)
    if field is None:
        raise MalformedDocument(f"the multipart body has no {name!r} part")
    return field.encode("utf-8")


def _report(data: bytes, content: bytes | None, *, pdf: bool) -> Response:
    side = services()
    trust = trust_store(side.ca)
    evidence = OwnEvidence(side.revocation)
    at = side.clock.now()
    report: Report
    if content is not None:
        report = verify_cms(data, content, trust=trust, evidence=evidence, at=at)
    elif pdf:
        report = verify_pdf(data, trust=trust, evidence=evidence, at=at)
    else:
        report = verify_xml(data, trust=trust, evidence=evidence, at=at)
    return Response(report.to_json(include_basic_four=False), mimetype="application/json")
