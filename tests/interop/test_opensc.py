"""Real card software drives the virtual card: pcscd, the vpcd reader and OpenSC's JPKI driver.

The stack, as a resident's machine has it: ``pcscd`` loads vsmartcard's ``vpcd`` reader driver,
``jpki card serve`` puts the card in vpcd's slot, and OpenSC's own ``jpki`` driver (through
``opensc-tool``, ``pkcs15-tool``, ``pkcs11-tool`` and its PKCS#11 module) talks to it.

vpcd listens on every interface, so pcscd and the card server run in a private network namespace
(``unshare --net``): the reader port exists only there. pcscd also gets a private mount namespace
whose ``/run/pcscd`` is a temporary folder, so it never meets a system pcscd; clients outside
reach it through that folder's Unix socket (``PCSCLITE_CSOCK_NAME``).

The Debian packages are installed with apt-get when missing; a failed install fails the tests.
"""

from __future__ import annotations

import glob
import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select

from ca.tables import IssuedCertificate
from jukibridge.register import Register
from pki.basic_four import BasicFour, Sex
from pki.card import VirtualCard
from pki.card.vpcd import DEFAULT_PORT
from pki.clock import FrozenClock
from pki.eras import PartialDate
from pki.profile import (
    CertKind,
    Endpoints,
    authentication_certificate,
    random_serial,
    root_certificate,
    sign,
    signing_certificate,
)
from tests.debian import install
from tests.storage.conftest import (  # noqa: F401  (card_instance and jpki are fixtures)
    Jpki,
    card_instance,
    enrol_card,
    jpki,
)
from tests.storage.helpers import arrive
from web.secrets import card_seal_key

PACKAGES = ("pcscd", "vsmartcard-vpcd", "opensc", "opensc-pkcs11", "iproute2")
VPCD_DRIVER = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so"
SEAL_KEY = bytes(range(32))
AUTH_PIN = "1234"
SIGN_PASSWORD = "ABC123"
WRONG_PASSWORD = "ZZZ999"
SIGN_TOKEN = "JPKI (Digital Signature PIN)"  # OpenSC's slot for the signing key
AUTH_TOKEN = "JPKI (User Authentication PIN)"
# Fixed, wide validity: pyhanko signs "now", and the tests must not depend on the day they run.
CA_VALIDITY = (datetime(2024, 1, 1, tzinfo=UTC), datetime(2064, 1, 1, tzinfo=UTC))
LEAF_VALIDITY = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2060, 1, 1, tzinfo=UTC))
ENDPOINTS = Endpoints(
    crl_url="http://repository.jpki.test/crl/sign/112089.crl",
    ocsp_url="http://repository.jpki.test/ocsp",
    ca_issuers_url="http://repository.jpki.test/ca/sign.cer",
)
WAIT_SECONDS = 20.0
# vpcd's reader entry (Debian ships the same in /etc/reader.conf.d/vpcd): "/dev/null" makes vpcd
# listen rather than connect; the channel id is the TCP port (0x8C7B = 35963).
READER_CONF = f"""FRIENDLYNAME "Virtual PCD"
DEVICENAME   /dev/null:0x{DEFAULT_PORT:04X}
LIBPATH      {VPCD_DRIVER}
CHANNELID    0x{DEFAULT_PORT:04X}
"""
# Runs as pcscd's parent shell inside the new namespaces, then becomes pcscd.
NAMESPACE_SCRIPT = (
    'ip link set lo up && mount --bind "$1" /run/pcscd && '
    'exec pcscd --foreground --config "$2"'
)


def _missing_packages() -> list[str]:
    needs = {"pcscd": shutil.which("pcscd"), "vsmartcard-vpcd": os.path.exists(VPCD_DRIVER),
             "opensc": shutil.which("pkcs11-tool"), "opensc-pkcs11": _pkcs11_module_or_none(),
             "iproute2": shutil.which("ip")}
    return [name for name in PACKAGES if not needs[name]]


def _pkcs11_module_or_none() -> str | None:
    found = sorted(glob.glob("/usr/lib/*/opensc-pkcs11.so"))
    found += glob.glob("/usr/lib/opensc-pkcs11.so")
    return found[0] if found else None


def _wait(condition: str, check: Callable[[], bool], timeout: float = WAIT_SECONDS) -> None:
    """Poll ``check()`` until it is true (a readiness wait, not a sleep for timing)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {condition}")
        time.sleep(0.05)


@dataclass(frozen=True)
class Stack:
    """pcscd with vpcd in its own network namespace, seen from outside through its socket."""

    pcscd: subprocess.Popen[bytes]
    folder: Path
    module: str

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "PCSCLITE_CSOCK_NAME": str(self.folder / "run" / "pcscd.comm")}

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(args, env=self.env, capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            pytest.fail(f"{args[0]} failed ({done.returncode}): {done.stdout}{done.stderr}")
        return done

    def pkcs11(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("pkcs11-tool", "--module", self.module, *args, check=check)

    def card_present(self) -> bool:
        return self.run("opensc-tool", "--name", check=False).returncode == 0


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    install(*_missing_packages(), present=lambda: not _missing_packages())
    module = _pkcs11_module_or_none()
    assert module is not None
    folder = tmp_path_factory.mktemp("pcsc")
    (folder / "run").mkdir()
    (folder / "conf").mkdir()
    (folder / "conf" / "vpcd").write_text(READER_CONF)
    Path("/run/pcscd").mkdir(parents=True, exist_ok=True)  # the mount point inside the namespace
    log = open(folder / "pcscd.log", "wb")  # noqa: SIM115 - closed at teardown
    pcscd = subprocess.Popen(
        ["unshare", "--net", "--mount", "--propagation", "private", "--", "sh", "-c",
         NAMESPACE_SCRIPT, "sh", str(folder / "run"), str(folder / "conf")],
        stdout=log, stderr=subprocess.STDOUT,
    )
    stack = Stack(pcscd, folder, module)
    try:
        _wait("pcscd's socket", lambda: (folder / "run" / "pcscd.comm").exists()
              or pcscd.poll() is not None)
        if pcscd.poll() is not None:
            pytest.fail(f"pcscd in a private namespace did not start: "
                        f"{(folder / 'pcscd.log').read_text(errors='replace')}")
        yield stack
    finally:
        pcscd.terminate()
        try:
            pcscd.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pcscd.kill()
            pcscd.wait()
        log.close()


@dataclass(frozen=True)
class Issued:
    """A card image with certificates from throwaway CAs, and those certificates."""

    path: Path
    sign_cert: x509.Certificate
    sign_ca: x509.Certificate
    auth_cert: x509.Certificate
    auth_ca: x509.Certificate


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(Encoding.DER)


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> Issued:
    """Issue one card through the JPKI profile (keys are generated once for the module)."""
    path = tmp_path_factory.mktemp("card") / "card.jpkicard"
    ca_keys = {kind: rsa.generate_private_key(public_exponent=65537, key_size=2048)
               for kind in CertKind}
    roots = {kind: sign(root_certificate(kind, key.public_key(), serial=random_serial(),
                                         not_before=CA_VALIDITY[0], not_after=CA_VALIDITY[1]),
                        key)
             for kind, key in ca_keys.items()}
    basic_four = BasicFour.from_register("髙橋", "太郎", Sex.MALE,
                                         PartialDate.of(date(1975, 3, 15)),
                                         "埼玉県所沢市並木1-1-1")
    with VirtualCard.create(path, SEAL_KEY, auth_pin=AUTH_PIN,
                            signing_password=SIGN_PASSWORD) as card:
        sign_cert = sign(signing_certificate(
            roots[CertKind.SIGNING], card.public_key("sign"), serial=random_serial(),
            not_before=LEAF_VALIDITY[0], not_after=LEAF_VALIDITY[1], prefecture="埼玉県",
            municipality="所沢市", issuance_id="S2026-interop-0001", basic_four=basic_four,
            endpoints=ENDPOINTS), ca_keys[CertKind.SIGNING])
        auth_cert = sign(authentication_certificate(
            roots[CertKind.AUTHENTICATION], card.public_key("auth"), serial=random_serial(),
            not_before=LEAF_VALIDITY[0], not_after=LEAF_VALIDITY[1],
            subject_id="A2026-interop-0001", endpoints=ENDPOINTS), ca_keys[CertKind.AUTHENTICATION])
        card.install_certificates(
            auth_cert=_der(auth_cert), auth_ca_cert=_der(roots[CertKind.AUTHENTICATION]),
            sign_cert=_der(sign_cert), sign_ca_cert=_der(roots[CertKind.SIGNING]))
    return Issued(path, sign_cert, roots[CertKind.SIGNING], auth_cert,
                  roots[CertKind.AUTHENTICATION])


@contextmanager
def _serving(stack: Stack, card: Path, seal_key: bytes, folder: Path) -> Iterator[None]:
    """``card`` in vpcd's slot, served by the CLI command inside the namespace."""
    key_file = folder / "seal.key"
    key_file.write_bytes(seal_key)
    log = open(folder / "serve.log", "wb")  # noqa: SIM115 - closed at teardown
    server = subprocess.Popen(
        ["nsenter", f"--net=/proc/{stack.pcscd.pid}/ns/net", "--", sys.executable, "-c",
         "from web.cli_card_serve import serve; serve()", str(card),
         "--seal-key-file", str(key_file)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        _wait("the card in the reader", lambda: stack.card_present() or server.poll() is not None)
        if server.poll() is not None:
            pytest.fail(f"card server exited: {(folder / 'serve.log').read_text()}")
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
        _wait("the card to leave the reader", lambda: not stack.card_present())


@pytest.fixture
def served(stack: Stack, issued: Issued, tmp_path: Path) -> Iterator[Issued]:
    """A fresh copy of the card in vpcd's slot, served by the CLI command inside the namespace."""
    path = tmp_path / "card.jpkicard"
    shutil.copyfile(issued.path, path)
    with _serving(stack, path, SEAL_KEY, tmp_path):
        yield Issued(path, issued.sign_cert, issued.sign_ca, issued.auth_cert, issued.auth_ca)


def _tries_left(stack: Stack) -> dict[str, int]:
    """``pkcs15-tool --list-pins``: PIN label → tries left."""
    out = stack.run("pkcs15-tool", "--list-pins").stdout
    tries: dict[str, int] = {}
    label = ""
    for line in out.splitlines():
        if line.startswith("PIN ["):
            label = line[len("PIN [") : line.index("]")]
        elif "Tries left" in line:
            tries[label] = int(line.rsplit(":", 1)[1])
    return tries


def _verify(cert: x509.Certificate, signature: bytes, message: bytes) -> None:
    public_key = cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())


def _sign_with_pkcs11_tool(stack: Stack, tmp_path: Path, *, token: str, key_id: str, pin: str,
                           message: bytes) -> subprocess.CompletedProcess[str]:
    (tmp_path / "message").write_bytes(message)
    return stack.pkcs11("--token-label", token, "--login", "--pin", pin, "--sign",
                        "--mechanism", "SHA256-RSA-PKCS", "--id", key_id,
                        "--input-file", str(tmp_path / "message"),
                        "--output-file", str(tmp_path / "signature"), check=False)


def test_the_reader_port_is_not_reachable_outside_the_namespace(served: Issued) -> None:
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", DEFAULT_PORT), timeout=2).close()


def test_opensc_tool_names_the_card_jpki(stack: Stack, served: Issued) -> None:
    assert stack.run("opensc-tool", "--name").stdout.strip() == "jpki"
    assert stack.run("opensc-tool", "--atr").stdout.strip() == "3b:e0:00:ff:81:31:fe:45:14"


def test_pkcs15_tool_lists_the_four_certificates(stack: Stack, served: Issued) -> None:
    out = stack.run("pkcs15-tool", "--list-certificates").stdout
    blocks = {block.splitlines()[0]: block for block in out.split("\n\n") if block.strip()}
    assert set(blocks) == {
        "X.509 Certificate [User Authentication Certificate]",
        "X.509 Certificate [User Authentication Certificate CA]",
        "X.509 Certificate [Digital Signature Certificate]",
        "X.509 Certificate [Digital Signature Certificate CA]",
    }
    assert "private" in blocks["X.509 Certificate [Digital Signature Certificate]"]
    # The public ones read back byte for byte; the signing certificate needs the password.
    for cert_id, cert in (("01", served.auth_cert), ("03", served.auth_ca),
                          ("04", served.sign_ca)):
        pem = stack.run("pkcs15-tool", "--read-certificate", cert_id).stdout
        assert x509.load_pem_x509_certificate(pem.encode()) == cert
    assert stack.run("pkcs15-tool", "--read-certificate", "02", check=False).returncode != 0


def test_pkcs11_tool_reads_the_signing_certificate_after_the_password(
    stack: Stack, served: Issued, tmp_path: Path
) -> None:
    out = tmp_path / "sign.der"
    stack.pkcs11("--token-label", SIGN_TOKEN, "--login", "--pin", SIGN_PASSWORD,
                 "--read-object", "--type", "cert", "--id", "02", "--output-file", str(out))
    assert x509.load_der_x509_certificate(out.read_bytes()) == served.sign_cert


def test_pkcs11_tool_signature_verifies_with_the_signing_certificate(
    stack: Stack, served: Issued, tmp_path: Path
) -> None:
    message = "確定申告 2026: 所得税及び復興特別所得税".encode()
    done = _sign_with_pkcs11_tool(stack, tmp_path, token=SIGN_TOKEN, key_id="02",
                                  pin=SIGN_PASSWORD, message=message)
    assert done.returncode == 0, done.stderr
    signature = (tmp_path / "signature").read_bytes()
    _verify(served.sign_cert, signature, message)
    with pytest.raises(InvalidSignature):
        _verify(served.auth_cert, signature, message)


def test_pkcs11_tool_signs_with_the_authentication_key_and_pin(
    stack: Stack, served: Issued, tmp_path: Path
) -> None:
    challenge = bytes(range(32))
    done = _sign_with_pkcs11_tool(stack, tmp_path, token=AUTH_TOKEN, key_id="01", pin=AUTH_PIN,
                                  message=challenge)
    assert done.returncode == 0, done.stderr
    _verify(served.auth_cert, (tmp_path / "signature").read_bytes(), challenge)


def test_a_wrong_pin_is_refused_and_the_retry_counter_goes_down(
    stack: Stack, served: Issued, tmp_path: Path
) -> None:
    assert _tries_left(stack) == {"User Authentication PIN": 3, "Digital Signature PIN": 5}
    done = _sign_with_pkcs11_tool(stack, tmp_path, token=SIGN_TOKEN, key_id="02",
                                  pin=WRONG_PASSWORD, message=b"x")
    assert done.returncode != 0
    assert "CKR_PIN_INCORRECT" in done.stderr
    assert not (tmp_path / "signature").exists()
    assert _tries_left(stack) == {"User Authentication PIN": 3, "Digital Signature PIN": 4}
    refused = stack.run("pkcs15-tool", "--verify-pin", "--auth-id", "01", "--pin", "9999",
                        check=False)
    assert refused.returncode != 0
    assert _tries_left(stack) == {"User Authentication PIN": 2, "Digital Signature PIN": 4}
    # the right password still works and gives every try back
    done = _sign_with_pkcs11_tool(stack, tmp_path, token=SIGN_TOKEN, key_id="02",
                                  pin=SIGN_PASSWORD, message=b"x")
    assert done.returncode == 0, done.stderr
    assert _tries_left(stack)["Digital Signature PIN"] == 5


def test_five_wrong_signing_passwords_lock_it(
    stack: Stack, served: Issued, tmp_path: Path
) -> None:
    for _ in range(5):
        done = stack.pkcs11("--token-label", SIGN_TOKEN, "--login", "--pin", WRONG_PASSWORD,
                            "--list-objects", check=False)
        assert "CKR_PIN_INCORRECT" in done.stderr
    assert _tries_left(stack)["Digital Signature PIN"] == 0
    assert "user PIN locked" in stack.pkcs11("--list-token-slots").stdout
    done = _sign_with_pkcs11_tool(stack, tmp_path, token=SIGN_TOKEN, key_id="02",
                                  pin=SIGN_PASSWORD, message=b"x")
    assert done.returncode != 0
    assert "CKR_PIN_LOCKED" in done.stderr
    assert _tries_left(stack)["User Authentication PIN"] == 3  # the other PIN is untouched


def test_one_signature_through_the_whole_stack_stays_fast(
    stack: Stack, served: Issued, tmp_path: Path
) -> None:
    """Guards TCP_QUICKACK: without it every APDU waits for a delayed ACK (≈ 4 s in all)."""
    started = time.perf_counter()
    done = _sign_with_pkcs11_tool(stack, tmp_path, token=SIGN_TOKEN, key_id="02",
                                  pin=SIGN_PASSWORD, message=b"timed")
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert elapsed < 1.0, f"one pkcs11-tool signature took {elapsed * 1000:.0f} ms"


def _pdf() -> bytes:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 770, "JPKI interop: signed through OpenSC's PKCS#11 module")
    page.save()
    return buffer.getvalue()


def test_pyhanko_signs_a_pdf_through_opensc(
    stack: Stack, served: Issued, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign import pkcs11, signers
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    monkeypatch.setenv("PCSCLITE_CSOCK_NAME", stack.env["PCSCLITE_CSOCK_NAME"])
    session = pkcs11.open_pkcs11_session(
        stack.module, token_criteria=TokenCriteria(label=SIGN_TOKEN), user_pin=SIGN_PASSWORD)
    try:
        signer = pkcs11.PKCS11Signer(session, key_id=b"\x02", cert_id=b"\x02",
                                     other_certs_to_pull=None)
        signed = signers.sign_pdf(
            IncrementalPdfFileWriter(io.BytesIO(_pdf())),
            signers.PdfSignatureMetadata(field_name="JPKI"), signer=signer)
    finally:
        session.close()

    root = asn1_x509.Certificate.load(_der(served.sign_ca))
    # Revocation is out of scope here (the verification endpoint will use our own CRL/OCSP).
    context = ValidationContext(trust_roots=[root], allow_fetching=False,
                                revocation_mode="soft-fail")
    embedded = PdfFileReader(signed).embedded_signatures
    assert len(embedded) == 1
    status = validate_pdf_signature(embedded[0], context)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.bottom_line
    assert status.signing_cert.dump() == _der(served.sign_cert)


def test_a_pdf_signed_through_opensc_passes_our_verification_endpoint(
    stack: Stack, card_instance: Path, jpki: Jpki,  # noqa: F811
    register: Register, clock: FrozenClock,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A card enrolled at our counter by our CA, in the reader: pyhanko's PKCS#11 signer signs
    a PDF through OpenSC's module, and our ``/api/v1/verify`` (our trust roots, our revocation
    evidence, the test clock) reports TOTAL_PASSED; tampered, it reports TOTAL_FAILED."""
    from pyhanko.config.pkcs11 import TokenCriteria
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import pkcs11, signers

    from pki.signing.pdf import TimedPdfSigner
    from tests.storage.conftest import SIGNING_PASSWORD as OUR_SIGNING_PASSWORD
    from web.app import create_app
    from web.config import load_settings
    from web.services import Services

    card, _ = enrol_card(jpki, card_instance, arrive(register))
    services = Services.build(load_settings(), clock=clock)
    try:
        seal_key = card_seal_key(services.settings)
        with _serving(stack, card, seal_key, tmp_path):
            monkeypatch.setenv("PCSCLITE_CSOCK_NAME", stack.env["PCSCLITE_CSOCK_NAME"])
            session = pkcs11.open_pkcs11_session(
                stack.module, token_criteria=TokenCriteria(label=SIGN_TOKEN),
                user_pin=OUR_SIGNING_PASSWORD)
            try:
                signer = pkcs11.PKCS11Signer(session, key_id=b"\x02", cert_id=b"\x02",
                                             other_certs_to_pull=None)
                signed = TimedPdfSigner(
                    signers.PdfSignatureMetadata(field_name="JPKI", md_algorithm="sha256"),
                    signer=signer, signing_time=clock.now(),
                ).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(_pdf()))).getvalue()
            finally:
                session.close()
        client = create_app(services=services, test_config={"TESTING": True}).test_client()
        response = client.post("/api/v1/verify", data=signed, content_type="application/pdf")
        assert response.status_code == 200, response.get_data(as_text=True)
        report = response.get_json()
        (signature,) = report["signatures"]
        assert report["indication"] == "TOTAL_PASSED", report
        with services.sessions() as db:
            serials = {int(row.serial) for row in db.scalars(select(IssuedCertificate))}
        assert int(signature["signer"]["serial"]) in serials

        # One byte of the signed range changed (in the binary comment after the header).
        comment = signed.index(b"\n%") + 2
        tampered = signed[:comment] + bytes([signed[comment] ^ 1]) + signed[comment + 1:]
        response = client.post("/api/v1/verify", data=tampered, content_type="application/pdf")
        (signature,) = response.get_json()["signatures"]
        assert signature["indication"] == "TOTAL_FAILED", signature
    finally:
        services.close()
