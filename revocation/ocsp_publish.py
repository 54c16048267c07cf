"""Static OCSP: the pre-signed responses as files that any static web server can serve.

RFC 6960 appendix A.1 and RFC 5019 §5 define the GET form of a request:
``{url}/{url-encoding of the base64 of the DER OCSPRequest}``. For the RFC 5019 profile (one
SHA-1 CertID, no nonce, no other extension) a certificate has exactly one such request, so its
pre-signed response can sit in a file found by that path, and a plain server (``python -m
http.server``, nginx, a CDN bucket) answers GET requests without us.

Where the file goes
-------------------
A static server percent-decodes the request path once and maps it onto the file system, so the
file of a request is ``DIR/ocsp/<base64 of the DER request>`` with the DECODED characters
(``+``, ``/``, ``=`` literally; ``+`` stays ``+``: a path is not form-encoded). A client may
send ``/`` as ``%2F`` or unescaped: both decode to the same path. Then, as the servers do:

- a ``/`` inside the base64 separates directories: the file is written in nested directories;
- consecutive ``/`` count as one (Python's ``http.server`` normalises the path; nginx has
  ``merge_slashes on`` by default): the path is written with them merged;
- a base64 ending in ``/`` names a directory: its response is that directory's ``index.html``,
  which both servers answer for a path ending in ``/`` (their default index rule).

The base64 alphabet has no ``.``, so no path is ever ``.``/``..`` nor has a file extension:
configure the server to send ``Content-Type: application/ocsp-response`` for the ``/ocsp/``
location (nginx: ``location /ocsp/ { types { } default_type application/ocsp-response; }``);
``http.server`` sends ``application/octet-stream``, which common clients accept.

Publishing again
----------------
``publish`` first fills the responder's cache (``presign_issuer`` for every generation), then
writes each live (unexpired) certificate's response. A file is replaced atomically (a temporary
file in the same directory, renamed over it) and only when its content changed; files of
certificates no longer live (expired) and stray temporary files are removed, and then empty
directories. ``DIR/ocsp`` belongs to the publisher: only names it could have written are ever
removed there. ``DIR/index.json`` records the count, when it was generated, and the earliest
``nextUpdate``: publish again well before it (e.g. hourly; responses are valid 24 hours by
default). Certificates of a generation without a responder (a retired generation) are counted
as skipped. A serial that has no file gets the server's 404: a client then asks the live
responder (POST ``/ocsp``), which also answers nonces.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from pki.clock import Clock
from revocation.ocsp import OcspResponder, cert_id
from revocation.ports import CertificateDirectory, Issuer

OCSP_FOLDER = "ocsp"  # DIR/ocsp/... answers <base>/ocsp/<GET path>, the URL in certificates
INDEX = "index.json"
DIRECTORY_INDEX = "index.html"  # what static servers answer for a path ending in "/"
TEMP_PREFIX = ".tmp-"
FILE_MODE = 0o644  # readable by the web server's user
_OURS = re.compile(r"[A-Za-z0-9+=]+(?:/[A-Za-z0-9+=]+)*(?:/" + re.escape(DIRECTORY_INDEX) + ")?")


def request_der(issuer: x509.Certificate, serial: int) -> bytes:
    """The RFC 5019 request for ``serial`` of ``issuer``: one SHA-1 CertID, no extension.

    Byte for byte what ``openssl ocsp -no_nonce`` sends (SHA-1 with NULL parameters).
    """
    certid = cert_id(issuer, serial)
    return ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        certid.name_hash, certid.key_hash, serial, hashes.SHA1()).build().public_bytes(
        serialization.Encoding.DER)


def get_path(der: bytes) -> str:
    """The GET path segment of a request (after ``<url>/``): its base64, URL-encoded."""
    return quote(base64.b64encode(der).decode("ascii"), safe="")


def file_path(der: bytes) -> PurePosixPath:
    """Where under ``DIR/ocsp`` a static server looks for the GET request of ``der``."""
    encoded = base64.b64encode(der).decode("ascii")
    parts = [part for part in encoded.split("/") if part]  # "//" counts as one "/"
    if encoded.endswith("/"):
        parts.append(DIRECTORY_INDEX)
    return PurePosixPath(*parts)


@dataclass
class PublishReport:
    """What one run of ``publish`` did."""

    generated_at: datetime
    count: int = 0  # responses published (written or unchanged)
    written: int = 0  # files new or changed
    unchanged: int = 0
    removed: int = 0  # files of certificates no longer live, and stray temporary files
    skipped: int = 0  # live certificates without a signed response (no responder)
    next_update: datetime | None = None  # the earliest nextUpdate among the responses
    by_issuer: dict[str, int] = field(default_factory=dict)  # generation name → count

    def index(self) -> dict[str, object]:
        """The content of ``index.json``."""
        return {
            "count": self.count,
            "generated_at": _iso(self.generated_at),
            "next_update": _iso(self.next_update) if self.next_update else None,
            "issuers": [{"name": name, "count": count}
                        for name, count in sorted(self.by_issuer.items())],
            "path": f"/{OCSP_FOLDER}/<url-encoded base64 of the DER request>",
        }


class StaticOcspPublisher:
    """Writes every live certificate's pre-signed response under ``DIR/ocsp``."""

    def __init__(self, responder: OcspResponder, directory: CertificateDirectory,
                 clock: Clock) -> None:
        self._responder = responder
        self._directory = directory
        self._clock = clock

    def publish(self, folder: Path) -> PublishReport:
        """Fill the cache, write or replace each response, remove stale files, write the
        index; returns what was done."""
        now = self._clock.now()
        report = PublishReport(generated_at=now)
        root = folder / OCSP_FOLDER
        root.mkdir(parents=True, exist_ok=True)
        kept: set[str] = set()
        for issuer in self._directory.issuers():
            self._responder.presign_issuer(issuer.key_id)
            for serial in self._live_serials(issuer, now):
                self._publish_one(root, issuer, serial, report, kept)
        report.removed = _remove_stale(root, kept)
        _write_atomic(folder / INDEX, json.dumps(report.index(), indent=2).encode() + b"\n")
        return report

    def _live_serials(self, issuer: Issuer, now: datetime) -> Iterator[int]:
        for record in self._directory.by_issuer(issuer.key_id):
            if record.not_after > now:
                yield record.serial

    def _publish_one(self, root: Path, issuer: Issuer, serial: int, report: PublishReport,
                     kept: set[str]) -> None:
        answer = self._responder.answer(issuer, cert_id(issuer.certificate, serial))
        response = ocsp.load_der_ocsp_response(answer)
        if (response.response_status is not ocsp.OCSPResponseStatus.SUCCESSFUL
                or response.certificate_status is ocsp.OCSPCertStatus.UNKNOWN):
            report.skipped += 1
            return
        relative = file_path(request_der(issuer.certificate, serial))
        kept.add(str(relative))
        if _write_atomic(root / relative, answer):
            report.written += 1
        else:
            report.unchanged += 1
        report.count += 1
        report.by_issuer[issuer.name] = report.by_issuer.get(issuer.name, 0) + 1
        next_update = response.next_update_utc
        if next_update is not None and (report.next_update is None
                                        or next_update < report.next_update):
            report.next_update = next_update


def _write_atomic(target: Path, data: bytes) -> bool:
    """Write ``data`` to ``target`` through a renamed temporary file; False if it already
    held exactly ``data``."""
    try:
        if target.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


def _remove_stale(root: Path, kept: set[str]) -> int:
    """Remove the files under ``root`` the publisher wrote before and does not keep now (and
    its stray temporary files), then the directories left empty; returns how many files."""
    removed = 0
    for current, directories, files in os.walk(root, topdown=False):
        here = Path(current)
        for name in files:
            relative = (here / name).relative_to(root).as_posix()
            if relative in kept:
                continue
            if name.startswith(TEMP_PREFIX) or _OURS.fullmatch(relative):
                (here / name).unlink()
                removed += 1
        for name in directories:
            with contextlib.suppress(OSError):
                (here / name).rmdir()  # only when empty
    return removed


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
