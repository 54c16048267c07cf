"""``jpki revoke``, ``jpki status``, ``jpki crl publish`` and ``jpki ocsp publish``: the
revocation service."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from types import FrameType

import click
from cryptography import x509

from revocation.errors import UnknownIssuer
from revocation.ocsp_publish import INDEX, OCSP_FOLDER, StaticOcspPublisher
from revocation.service import CertRef, CertStatus
from revocation.status_lookup import StatusFacts, find_issuer, look_up, parse_serial
from web.cli import JpkiGroup, console, operator_login, operator_option, with_services
from web.services import Services


def _ref(services: Services, serial: str, issuer: str | None = None) -> CertRef:
    """The certificate with this serial (decimal or 0x-hex), under ``issuer`` (a generation's
    name or key id) or whichever generation issued it."""
    number = parse_serial(serial.strip())
    directory = services.revocation.directory
    generations = [find_issuer(directory, issuer.strip())] if issuer else directory.issuers()
    for generation in generations:
        if services.revocation.service.status(generation.key_id, number).certificate is not None:
            return CertRef(generation.key_id, number)
    raise click.ClickException(f"no certificate with serial {serial} was issued here")


@click.command("revoke")
@click.argument("serial")
@click.option("--key-compromise", is_flag=True, help="The holder reports the key leaked.")
@operator_option
@with_services
def revoke(services: Services, serial: str, key_compromise: bool, operator: str | None) -> None:
    """Revoke a certificate at the holder's request (reason unspecified or keyCompromise)."""
    login = operator_login(services, operator)
    (outcome,) = services.revocation.service.request(
        [_ref(services, serial)], key_compromise=key_compromise, operator=login)
    console.print(outcome.message)


def _facts_of_file(services: Services, path: Path) -> StatusFacts:
    """The status of a certificate file (PEM or DER), its issuer found by its AKI."""
    data = path.read_bytes()
    try:
        cert = (x509.load_pem_x509_certificate(data) if data.lstrip().startswith(b"-----")
                else x509.load_der_x509_certificate(data))
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except (ValueError, x509.ExtensionNotFound) as exc:
        raise click.ClickException(f"{path} is not a readable certificate ({exc})") from None
    if aki.key_identifier is None:
        raise click.ClickException(f"{path} names no issuer key id")
    side = services.revocation
    try:
        issuer = find_issuer(side.directory, aki.key_identifier.hex())
    except UnknownIssuer:
        raise click.ClickException(f"{path} was not issued by our CAs") from None
    return look_up(side.service, services.clock, issuer, cert.serial_number)


@click.command("status")
@click.argument("certificate")
@click.option("--issuer", default=None,
              help="For a SERIAL: the CA generation (sign-1, auth-2 …, or its key id).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the JSON of GET /api/v1/certificates/<issuer>/<serial>/status.")
@with_services
def status(services: Services, certificate: str, issuer: str | None, as_json: bool) -> None:
    """good / revoked (reason, time) / unknown, for a SERIAL or a CERT_FILE (PEM or DER).

    Exits with 1 unless the certificate is good (an expired one is marked so).
    """
    path = Path(certificate)
    if path.is_file():
        facts = _facts_of_file(services, path)
    else:
        ref = _ref(services, certificate, issuer)
        generation = find_issuer(services.revocation.directory, ref.issuer_key_id)
        facts = look_up(services.revocation.service, services.clock, generation, ref.serial)
    if as_json:
        click.echo(json.dumps(facts.to_json(), indent=2))
    else:
        console.print(facts.summary())
    if facts.status is not CertStatus.GOOD:
        raise SystemExit(1)


@click.group("crl", cls=JpkiGroup)
def crl() -> None:
    """Certificate revocation lists."""


@crl.command("publish")
@click.option("--out", "folder", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write every current CRL here, as <ca>/<partition>.crl, for static "
                   "hosting.")
@with_services
def crl_publish(services: Services, folder: Path | None) -> None:
    """Issue the CRLs that are due, and optionally write all current ones to a folder."""
    published = services.revocation.crls.publish_due()
    console.print(f"{len(published)} CRLs issued")
    if folder is None:
        return
    count = 0
    crls = services.revocation.crls
    for current in crls.current():
        target = folder / crls.issuer(current.issuer_key_id).name / f"{current.partition}.crl"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(current.der)
        count += 1
    console.print(f"{count} CRLs written to {folder}")


@click.group("revocation", cls=JpkiGroup)
def revocation_group() -> None:
    """The revocation service's own work (normally done by `jpki worker revocation`)."""


@revocation_group.command("run")
@with_services
def revocation_run(services: Services) -> None:
    """One round: apply new revocation notices, issue due CRLs, refresh OCSP responses."""
    applied = services.revocation.run_once()
    console.print(f"{applied} revocation notices applied")


@click.group("ocsp", cls=JpkiGroup)
def ocsp_group() -> None:
    """The OCSP responder: its own front, and its pre-signed responses for static hosting."""


@ocsp_group.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=click.IntRange(0, 65535))
@with_services
def ocsp_serve(services: Services, host: str, port: int) -> None:
    """Serve the OCSP responder alone (POST /ocsp, GET /ocsp/<base64>, GET /healthz) until
    Ctrl-C or SIGTERM.

    A process of its own beside `jpki serve`, which keeps revoking and pre-signing: a
    revocation committed by any process is seen by the very next request. Certificates name
    <base_url>/ocsp (route that path here from the front proxy), or ocsp_url when it is set.
    """
    from web.ocsp_server import bind

    try:
        front = bind(services.revocation.ocsp, host, port)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
    console.print(f"OCSP responder on {front.url}")
    console.file.flush()

    def terminate(_signum: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # uvicorn hands the signal on once it has closed down

    signal.signal(signal.SIGTERM, terminate)
    try:
        front.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        front.stop()
        console.print("stopped")


@ocsp_group.command("publish")
@click.argument("folder", metavar="DIR",
                type=click.Path(file_okay=False, path_type=Path))
@with_services
def ocsp_publish(services: Services, folder: Path) -> None:
    """Write every live certificate's pre-signed OCSP response for static hosting.

    Each response goes to DIR/ocsp/<base64 of its RFC 5019 request> (a "/" in the base64 makes
    sub-directories; a trailing "/" an index.html), so a static server whose root is DIR answers
    GET <base>/ocsp/<url-encoded base64>. DIR/index.json gives the count and the earliest
    nextUpdate: publish again before it. Files of expired certificates are removed.
    """
    side = services.revocation
    console.print(f"signing and writing OCSP responses to {folder / OCSP_FOLDER} …")
    report = StaticOcspPublisher(side.ocsp, side.directory, services.clock).publish(folder)
    for name, count in sorted(report.by_issuer.items()):
        console.print(f"{name}: {count} responses")
    console.print(f"{report.count} OCSP responses published ({report.written} written, "
                  f"{report.unchanged} unchanged, {report.removed} removed"
                  + (f", {report.skipped} without a responder" if report.skipped else "")
                  + ")")
    if report.next_update is not None:
        console.print(f"publish again before {report.next_update.isoformat()} "
                      f"(see {folder / INDEX})")


def attach(main: click.Group) -> None:
    main.add_command(revocation_group)
    main.add_command(revoke)
    main.add_command(status)
    main.add_command(crl)
    main.add_command(ocsp_group)
