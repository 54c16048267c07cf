"""Card login to the portal by challenge–response with the authentication certificate.

1. The login page shows a one-time code (8 characters of an alphabet without look-alikes,
   valid ``CODE_MINUTES``, single use) tied to the browser session that displayed it.
2. The resident runs ``jpki login --card CARD --code CODE``: the card's authentication key signs
   ``challenge_message(code, origin)`` (SHA-256, PKCS#1 v1.5, through the card's APDUs after the
   auth PIN), which binds the code to the service's origin, so a code relayed by another site
   is useless here. The CLI posts a ``SignedChallenge`` (JSON) to ``/portal/login/response``,
   or writes it to a file that the login page accepts as an upload.
3. ``verify`` takes the code (pending and unexpired, then consumed whatever the outcome), checks
   the signature over the exact message with the certificate's key, that our authentication CA
   issued the certificate (any generation) to a resident, that it has not expired on the
   service's clock and that our revocation service says ``good`` (no status: refused). The
   challenge then holds the resident, and the browser session that displayed the code is
   logged in at its next poll (or at once, for an upload).

The origins accepted are the configured ``base_url``'s and, for a request that reached the
service on a loopback address, that address (a local ``jpki serve`` on another port). The Host
header of other requests is never trusted: a relaying site could set it to its own name.

Pending challenges live in a process-local, thread-safe ``ChallengeStore`` (``STORE``), with
expiry on the service's clock: ``jpki serve`` is one process (waitress threads, workers as
threads), so every request sees the same store. Several web processes behind one address would
need a shared store (a database table) instead. A restart forgets pending codes: the resident
reloads the page and gets a new one.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import logging
import secrets
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import Enum
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from jukibridge import audit
from pki.profile import CertKind
from revocation.service import CertStatus
from web.certificate_check import Verdict, check
from web.services import Services

log = logging.getLogger(__name__)

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I, O, 0, 1
CODE_LENGTH = 8
CODE_MINUTES = 5
CLAIM_WINDOW = timedelta(minutes=2)  # the browser logs in this soon after the verification
KEEP_AFTER = timedelta(minutes=10)  # a finished challenge is remembered this long (reuse msg)
MAX_PENDING = 10_000  # a bound on memory: beyond this many live challenges, new ones wait
MAX_DOCUMENT = 16_384  # bytes of a signed challenge (a certificate is about 1.5 KB)
MESSAGE_HEADER = "jpki-portal-login/1"


class State(Enum):
    PENDING = "pending"  # shown, waiting for the card's signature
    VERIFYING = "verifying"  # taken by a response, being checked
    DONE = "done"  # verified: the browser that displayed it logs in at its next poll
    FAILED = "failed"  # a response was refused; the code is spent
    CLAIMED = "claimed"  # the browser logged in; the code is spent
    EXPIRED = "expired"  # (only reported) past its time
    UNKNOWN = "unknown"  # (only reported) never issued here, or forgotten


REFUSAL_MESSAGES: Final = MappingProxyType({
    "malformed": "署名済みチャレンジの形式が正しくありません。",
    "origin-mismatch": "別のサービス向けに署名されています。接続先を確認してください。",
    "code-unknown": "このコードは発行されていません。画面に表示されたコードを使ってください。",
    "code-expired": ("コードの有効期限が切れています。"
                     "画面を開き直して新しいコードを使ってください。"),
    "code-used": "このコードは使用済みです。画面を開き直して新しいコードを使ってください。",
    "other-browser": "この画面に表示されたコードではありません。",
    "bad-signature": "署名を確認できませんでした。",
    "not-our-certificate": "当サービスの利用者証明用電子証明書ではありません。",
    "certificate-expired": "利用者証明用電子証明書の有効期限が切れています。",
    "certificate-revoked": "利用者証明用電子証明書が失効または一時停止されています。",
    "no-status": "証明書の状態を確認できませんでした。",
    "busy": "ただいま混み合っています。しばらくしてから再度お試しください。",
})


class LoginRefused(Exception):
    """A login attempt that is refused; ``kind`` names why (also the problem type)."""

    def __init__(self, kind: str, detail: str, *, status: int = 401) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.status = status

    @property
    def message(self) -> str:
        """The Japanese sentence for the resident's screen."""
        return REFUSAL_MESSAGES.get(self.kind, "ログインできませんでした。")


@dataclass
class Challenge:
    code: str
    browser: str  # random token of the browser session that displayed the code
    created_at: datetime
    expires_at: datetime
    state: State = State.PENDING
    login: LoggedIn | None = None  # once verified
    failure: str | None = None  # LoginRefused.kind
    finished_at: datetime | None = None


@dataclass
class ChallengeStore:
    """Pending and recently finished challenges of this process (thread-safe)."""

    lifetime: timedelta = timedelta(minutes=CODE_MINUTES)
    limit: int = MAX_PENDING
    _items: dict[str, Challenge] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, browser: str, now: datetime) -> Challenge:
        """A new code for ``browser``."""
        with self._lock:
            self._purge(now)
            if len(self._items) >= self.limit:
                raise LoginRefused("busy", "too many pending challenges", status=503)
            while True:
                code = "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))
                if code not in self._items:
                    break
            challenge = Challenge(code, browser, now, now + self.lifetime)
            self._items[code] = challenge
            return replace(challenge)

    def take(self, code: str, now: datetime) -> Challenge:
        """Consume a pending, unexpired code for checking (a code is taken once)."""
        with self._lock:
            found = self._items.get(code)
            if found is None:
                raise LoginRefused("code-unknown", "no such login code (or it was forgotten)")
            if found.state is not State.PENDING:
                raise LoginRefused("code-used", "this login code was used already")
            if now > found.expires_at:
                raise LoginRefused("code-expired", "this login code has expired")
            found.state = State.VERIFYING
            return replace(found)

    def finish(self, code: str, now: datetime, login: LoggedIn) -> None:
        with self._lock:
            found = self._items[code]
            found.state, found.finished_at, found.login = State.DONE, now, login

    def fail(self, code: str, now: datetime, kind: str) -> None:
        with self._lock:
            found = self._items.get(code)
            if found is not None:
                found.state, found.finished_at, found.failure = State.FAILED, now, kind

    def state(self, code: str, browser: str, now: datetime) -> State:
        """What the browser that displayed ``code`` should show (nothing for others)."""
        with self._lock:
            found = self._items.get(code)
            if found is None or found.browser != browser:
                return State.UNKNOWN
            if found.state is State.PENDING and now > found.expires_at:
                return State.EXPIRED
            return found.state

    def claim(self, code: str, browser: str, now: datetime) -> LoggedIn | None:
        """The verified login of this browser's code, once (then the code is spent), within
        ``CLAIM_WINDOW`` of the verification."""
        with self._lock:
            found = self._items.get(code)
            if found is None or found.browser != browser or found.state is not State.DONE:
                return None
            found.state = State.CLAIMED
            if found.finished_at is None or now > found.finished_at + CLAIM_WINDOW:
                return None
            return found.login

    def failure(self, code: str, browser: str) -> str | None:
        with self._lock:
            found = self._items.get(code)
            return found.failure if found is not None and found.browser == browser else None

    def _purge(self, now: datetime) -> None:
        for code in [c for c, item in self._items.items()
                     if now > max(item.expires_at, item.finished_at or item.expires_at)
                     + KEEP_AFTER]:
            del self._items[code]


STORE = ChallengeStore()


# -- the message and the signed document --------------------------------------------------------


def normalise_code(value: str) -> str:
    """Upper-case, without spaces and hyphens; raises LoginRefused for a malformed code."""
    code = "".join(value.split()).replace("-", "").upper()
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        raise LoginRefused("malformed", f"a login code is {CODE_LENGTH} characters of "
                           f"{ALPHABET}", status=400)
    return code


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL, lower-case, without a default port."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise LoginRefused("malformed", f"not an http(s) URL: {url!r}", status=400)
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        raise LoginRefused("malformed", f"bad port in {url!r}", status=400) from None
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port and port != default else "")


def challenge_message(code: str, origin: str) -> bytes:
    """The exact bytes the card signs: the code bound to the service's origin."""
    return f"{MESSAGE_HEADER}\norigin={origin}\ncode={code}\n".encode("ascii")


@dataclass(frozen=True)
class SignedChallenge:
    """What ``jpki login`` sends (or writes with ``--out``)."""

    code: str
    certificate: x509.Certificate
    signature: bytes
    origin: str | None = None  # informational: the origin the card signed for

    def to_json(self) -> dict[str, str]:
        body = {"code": self.code,
                "certificate": base64.b64encode(
                    self.certificate.public_bytes(Encoding.DER)).decode("ascii"),
                "signature": base64.b64encode(self.signature).decode("ascii")}
        if self.origin:
            body["origin"] = self.origin
        return body

    @classmethod
    def parse(cls, data: Any) -> SignedChallenge:
        """From the JSON body or file (``certificate``: base64 DER or PEM)."""
        if isinstance(data, bytes | str):
            if len(data) > MAX_DOCUMENT:
                raise LoginRefused("malformed", "the signed challenge is too large", status=400)
            try:
                data = json.loads(data)
            except (ValueError, UnicodeDecodeError):
                raise LoginRefused("malformed", "the signed challenge is not JSON",
                                   status=400) from None
        if not isinstance(data, dict):
            raise LoginRefused("malformed", "a JSON object is expected", status=400)
        fields = {key: data.get(key) for key in ("code", "certificate", "signature")}
        missing = [key for key, value in fields.items() if not isinstance(value, str)]
        if missing:
            raise LoginRefused("malformed", f"missing or not text: {', '.join(missing)}",
                               status=400)
        origin = data.get("origin")
        return cls(code=normalise_code(str(fields["code"])),
                   certificate=_certificate(str(fields["certificate"])),
                   signature=_base64(str(fields["signature"]), "signature"),
                   origin=origin if isinstance(origin, str) else None)


def _base64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise LoginRefused("malformed", f"{what} is not base64", status=400) from None


def _certificate(text: str) -> x509.Certificate:
    try:
        if text.lstrip().startswith("-----BEGIN"):
            return x509.load_pem_x509_certificate(text.encode("ascii"))
        return x509.load_der_x509_certificate(_base64(text, "certificate"))
    except (ValueError, UnicodeEncodeError):
        raise LoginRefused("malformed", "certificate is not an X.509 certificate",
                           status=400) from None


# -- verification ---------------------------------------------------------------------------------


def accepted_origins(services: Services, request_url: str | None) -> set[str]:
    """The configured origin, and the request's own when it came over loopback."""
    origins = {origin_of(services.settings.base_url)}
    if request_url:
        host = urlsplit(request_url).hostname or ""
        if host == "localhost" or _loopback(host):
            origins.add(origin_of(request_url))
    return origins


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class LoggedIn:
    """A verified login: whose certificate, which one."""

    code: str
    resident_code: str
    certificate: str  # "<generation>:<serial>"
    issuer_key_id: str
    serial: int
    card_id: str | None
    municipality_code: str | None  # the issuing municipality (the certificate's partition)


def still_good(services: Services, issuer_key_id: str, serial: int) -> bool:
    """Whether a logged-in authentication certificate is still good and unexpired: checked on
    every use of a portal or API session (one indexed status lookup)."""
    status = services.revocation.service.status(issuer_key_id, serial)
    record = status.certificate
    return (status.state is CertStatus.GOOD and record is not None
            and services.clock.now() <= record.not_after)


def verify(services: Services, signed: SignedChallenge, *, origins: set[str],
           browser: str | None = None, store: ChallengeStore = STORE) -> LoggedIn:
    """Check a signed challenge (see the module docstring); audited either way.

    ``browser``: for an upload, the code must be one this browser session displayed.
    """
    now = services.clock.now()
    if signed.origin is not None and _safe_origin(signed.origin) not in origins:
        refused = LoginRefused("origin-mismatch",
                               f"signed for {signed.origin}, not for this service")
        _audit_refusal(services, refused)
        raise refused
    if browser is not None and store.state(signed.code, browser, now) is State.UNKNOWN:
        raise LoginRefused("other-browser", "this code was not displayed in this browser",
                           status=400)
    try:
        store.take(signed.code, now)
    except LoginRefused as refused:  # unknown, used or expired: the challenge stays as it is
        _audit_refusal(services, refused)
        raise
    try:
        done = _check(services, signed, origins)
        audit_portal(services, "portal.login", card_id=done.card_id,
               municipality_code=done.municipality_code,
               details={"certificate": done.certificate})
    except LoginRefused as refused:
        store.fail(signed.code, now, refused.kind)
        _audit_refusal(services, refused)
        raise
    except Exception:  # fail closed: a lookup or the audit write failed
        store.fail(signed.code, now, "no-status")
        raise
    store.finish(signed.code, now, done)
    return done


def _safe_origin(value: str) -> str:
    try:
        return origin_of(value)
    except LoginRefused:
        return value


def _check(services: Services, signed: SignedChallenge, origins: set[str]) -> LoggedIn:
    key = signed.certificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise LoginRefused("not-our-certificate", "not an RSA certificate")
    if not any(_signature_ok(key, signed.signature, challenge_message(signed.code, origin))
               for origin in sorted(origins)):
        raise LoginRefused("bad-signature",
                           "the signature does not match this code, service and certificate")
    checked = check(services, signed.certificate, (CertKind.AUTHENTICATION,))
    record = checked.record
    if checked.issuer is None:
        raise LoginRefused("not-our-certificate", "not issued by our authentication CA")
    if checked.verdict in (Verdict.REVOKED, Verdict.HOLD):
        raise LoginRefused("certificate-revoked", "the certificate is revoked or on hold")
    if checked.verdict is Verdict.EXPIRED:
        raise LoginRefused("certificate-expired", "the certificate has expired")
    if checked.verdict is not Verdict.VALID or record is None:
        raise LoginRefused("no-status", "no good status for this certificate")
    if record.kind != CertKind.AUTHENTICATION.value or not record.resident_code:
        raise LoginRefused("not-our-certificate", "not a resident's authentication certificate")
    name = f"{checked.issuer.name}:{record.serial}"
    return LoggedIn(code=signed.code, resident_code=record.resident_code, certificate=name,
                    issuer_key_id=record.issuer_key_id, serial=record.serial,
                    card_id=record.card_id, municipality_code=record.partition)


def _signature_ok(key: rsa.RSAPublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


def _audit_refusal(services: Services, refused: LoginRefused) -> None:
    """Audit a refusal; the refusal stands even if the entry cannot be written."""
    try:
        audit_portal(services, "portal.login.refused", card_id=None, municipality_code=None,
               details={"reason": refused.kind})
    except Exception:
        log.exception("portal: the audit entry of a refused login was not written")


def audit_portal(services: Services, action: str, *, card_id: str | None,
           municipality_code: str | None, details: dict[str, Any]) -> None:
    """An audit entry of the portal (no PIN, no code, no personal data)."""
    with services.sessions() as session, session.begin():
        audit.record(session, services.clock, actor="portal", action=action,
                     target=f"card:{card_id}" if card_id else "",
                     municipality_code=municipality_code, details=details)
