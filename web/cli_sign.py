"""``jpki sign`` and ``jpki verify``: a resident signs with the card; an agency verifies.

The signing password is prompted or read from ``--pin-file``; it is never taken from the
command line or logged. The card signs the digest: its private key never leaves it.
"""

from __future__ import annotations

from pathlib import Path

import click

from pki.card import Card
from pki.signing import MalformedDocument, card_signer
from pki.signing.cms import sign_cms
from pki.signing.pdf import Stamp, sign_pdf
from pki.signing.xml import sign_xml
from pki.verify import Indication, Report, verify_cms, verify_pdf, verify_xml
from web import secrets
from web.cli import read_secret, with_services
from web.evidence import OwnEvidence, trust_store
from web.receipts import Receipts, Submission
from web.services import Services

FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@click.command("sign")
@click.argument("source", type=FILE)
@click.option("--card", "card_path", type=FILE, required=True, help="The card image.")
@click.option("--pin-file", type=FILE, default=None, help="File holding the signing password.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--cms", is_flag=True, help="A detached CMS (PKCS#7) signature of any file.")
@click.option("--pdf", is_flag=True, help="Sign a PDF (PAdES baseline B).")
@click.option("--stamp", is_flag=True, help="With --pdf: a visible signature box.")
@with_services
def sign(services: Services, source: Path, card_path: Path, pin_file: Path | None, out: Path,
         cms: bool, pdf: bool, stamp: bool) -> None:
    """Sign SOURCE with the card: an e-Tax-style XML submission by default."""
    if cms and pdf:
        raise click.UsageError("choose --cms or --pdf, not both")
    password = read_secret("signing password", pin_file)
    data = source.read_bytes()
    try:
        with Card.open(card_path, secrets.card_seal_key(services.settings)) as card:
            certificate = card.read_certificate("sign", password)
            signer = card_signer(card, password)
            now = services.clock.now()
            if cms:
                result = sign_cms(data, signer, certificate, signing_time=now)
            elif pdf:
                result = sign_pdf(data, signer, certificate, signing_time=now,
                                  stamp=Stamp() if stamp else None)
            else:
                result = sign_xml(data, signer, certificate)
    except MalformedDocument as exc:
        raise click.ClickException(f"{source}: {exc}") from None
    out.write_bytes(result)
    click.echo(f"signed {source.name} → {out}", err=True)


@click.command("verify")
@click.argument("file", type=FILE)
@click.option("--content", type=FILE, default=None,
              help="FILE is a detached CMS signature of this content.")
@click.option("--basic-four", is_flag=True,
              help="Include the signer's basic four (the instance's own staff; remote "
                   "verifiers get them through the API with an entitled verifier's key).")
@click.option("--receipt", "receipt_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the service's signed receipt (CMS, DER) here.")
@with_services
def verify(services: Services, file: Path, content: Path | None, basic_four: bool,
           receipt_path: Path | None) -> None:
    """Verify FILE (XML submission, PDF, or CMS with --content); print the JSON report.

    With --receipt, the receipt's report_sha256 is the SHA-256 of the printed report (without
    the final newline). Exit status 0 only for TOTAL_PASSED.
    """
    data = file.read_bytes()
    signed = content.read_bytes() if content is not None else None
    trust = trust_store(services.ca)
    evidence = OwnEvidence(services.revocation)
    at = services.clock.now()
    try:
        report: Report
        if signed is not None:
            report = verify_cms(data, signed, trust=trust, evidence=evidence, at=at)
        elif data.startswith(b"%PDF"):
            report = verify_pdf(data, trust=trust, evidence=evidence, at=at)
        else:
            report = verify_xml(data, trust=trust, evidence=evidence, at=at)
    except MalformedDocument as exc:
        raise click.ClickException(f"{file}: {exc}") from None
    text = report.to_json(include_basic_four=basic_four)
    if receipt_path is not None:
        submission = Submission(signed, data) if signed is not None else Submission(data)
        receipt = Receipts(services.ca, services.keys, services.clock).issue(
            submission, report, text.encode("utf-8"))
        receipt_path.write_bytes(receipt)
        click.echo(f"receipt → {receipt_path}", err=True)
    click.echo(text)
    if report.indication is not Indication.TOTAL_PASSED:
        raise SystemExit(1)


def attach(main: click.Group) -> None:
    main.add_command(sign)
    main.add_command(verify)

