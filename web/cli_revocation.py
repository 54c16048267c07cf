"""``jpki revoke``, ``jpki status`` and ``jpki crl publish``: the revocation service."""

from __future__ import annotations

from pathlib import Path

import click
from cryptography import x509

from revocation.service import CertRef, CertStatus
from web.cli import JpkiGroup, console, operator_login, operator_option, with_services
from web.services import Services


def _ref(services: Services, serial: str) -> CertRef:
    """The certificate with this serial (decimal or 0x-hex), whichever generation issued it."""
    number = int(serial, 16) if serial.lower().startswith("0x") else int(serial)
    for issuer in services.revocation.directory.issuers():
        if services.revocation.service.status(issuer.key_id, number).certificate is not None:
            return CertRef(issuer.key_id, number)
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


@click.command("status")
@click.argument("certificate")
@with_services
def status(services: Services, certificate: str) -> None:
    """good / revoked (reason, time) / unknown, for a SERIAL or a CERT_FILE (PEM or DER)."""
    path = Path(certificate)
    if path.is_file():
        data = path.read_bytes()
        cert = (x509.load_pem_x509_certificate(data) if data.startswith(b"-----")
                else x509.load_der_x509_certificate(data))
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        assert aki.key_identifier is not None
        ref = CertRef(aki.key_identifier.hex(), cert.serial_number)
    else:
        ref = _ref(services, certificate)
    result = services.revocation.service.status(ref.issuer_key_id, ref.serial)
    if result.state is CertStatus.REVOKED and result.revocation is not None:
        r = result.revocation
        console.print(f"revoked: {r.reason.value} at {r.revoked_at.isoformat()}")
    else:
        console.print(result.state.value)
    if result.state is not CertStatus.GOOD:
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


def attach(main: click.Group) -> None:
    main.add_command(revocation_group)
    main.add_command(revoke)
    main.add_command(status)
    main.add_command(crl)
