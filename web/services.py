"""Composition root: builds engines, sessions, the clock and the registers from Settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ca.authority import CertificateAuthority
from ca.keystore import KeyStore
from jukibridge.register import Register
from pki.clock import Clock
from pki.validity import ValidityRule
from web import secrets
from web.clock import SystemClock
from web.config import Settings
from web.database import make_engine, make_sessions
from web.revocation_wiring import RevocationSide


@dataclass
class Services:
    """Everything a command or the web application needs, built once per process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock
    _registers: dict[str, Register] = field(default_factory=dict)
    _ca: CertificateAuthority | None = None
    _keys: KeyStore | None = None
    _revocation: RevocationSide | None = None

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> Services:
        engine = make_engine(settings.database_url)
        return cls(settings=settings, engine=engine, sessions=make_sessions(engine),
                   clock=clock or SystemClock())

    def register(self, municipality_code: str | None = None) -> Register:
        code = municipality_code or self.settings.municipality_code
        if code not in self._registers:
            self._registers[code] = Register(self.sessions, self.clock, code)
        return self._registers[code]

    @property
    def keys(self) -> KeyStore:
        """The CA key store (may ask for the passphrase)."""
        if self._keys is None:
            self._keys = secrets.key_store(self.settings)
        return self._keys

    @property
    def ca(self) -> CertificateAuthority:
        """The certificate authority, the only user of the CA keys."""
        if self._ca is None:
            self._ca = CertificateAuthority(self.sessions, self.clock, self.keys,
                                            self.settings.base_url,
                                            self.settings.ocsp_url or None)
        return self._ca

    @property
    def revocation(self) -> RevocationSide:
        """The revocation service with its notice consumer, CRLs and OCSP responder."""
        if self._revocation is None:
            self._revocation = RevocationSide.build(self.ca, self.keys, self.sessions,
                                                    self.clock, self.settings.base_url)
        return self._revocation

    @property
    def validity_rule(self) -> ValidityRule:
        return (ValidityRule.FIFTH_BIRTHDAY if self.settings.validity_rule == "fifth-birthday"
                else ValidityRule.THREE_YEARS)

    def close(self) -> None:
        self.engine.dispose()
