"""Configuration: defaults → instance file (``jpki.toml``) → environment, validated once.

Unknown keys are errors; a bad value refuses to start with a message naming the key.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

CONFIG_FILE = "jpki.toml"
VALIDITY_RULES = ("three-years", "fifth-birthday")
ENV_PREFIX = "JPKI_"


class ConfigError(Exception):
    """A configuration that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one instance."""

    home: Path
    database_url: str
    municipality_code: str = "112089"  # the instance's default register (所沢市)
    base_url: str = "http://127.0.0.1:8000"  # where CRLs, CA certificates and OCSP are served
    ocsp_url: str = ""  # the OCSP URL certificates name; "" = <base_url>/ocsp
    validity_rule: str = "three-years"  # or "fifth-birthday" (the My Number card rule)
    key_store: str = "file"  # CA keys: "file" (encrypted PKCS#8) or "pkcs11" (an HSM)
    pkcs11_module: str = ""  # the HSM's PKCS#11 library (key_store = "pkcs11")
    pkcs11_token: str = ""  # the token label (its PIN comes from JPKI_PKCS11_PIN only)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def load_settings(home: str | Path | None = None, environ: dict[str, str] | None = None
                  ) -> Settings:
    """Read the configuration of the instance folder ``home`` (or ``$JPKI_HOME``)."""
    env = dict(os.environ if environ is None else environ)
    home_path = Path(home or env.get("JPKI_HOME") or "instance").resolve()
    values: dict[str, Any] = {}
    config_file = home_path / CONFIG_FILE
    if config_file.is_file():
        try:
            values.update(tomllib.loads(config_file.read_text("utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file}: {exc}") from exc
    known = {f.name for f in fields(Settings)} - {"home"}
    for key in sorted(values):
        if key not in known:
            raise ConfigError(f"{config_file}: unknown key {key!r}")
    for key in known:
        if (ENV_PREFIX + key.upper()) in env:
            values[key] = env[ENV_PREFIX + key.upper()]
    values.setdefault("database_url", f"sqlite:///{home_path / 'jpki.sqlite3'}")
    for key, value in values.items():
        if not isinstance(value, str) or (
                not value.strip() and not key.startswith("pkcs11") and key != "ocsp_url"):
            raise ConfigError(f"{key} must be a non-empty string")
    if not values["database_url"].startswith(("sqlite:", "postgresql")):
        raise ConfigError("database_url must be a sqlite: or postgresql URL")
    for key in ("pkcs11_module", "pkcs11_token", "ocsp_url"):
        values.setdefault(key, "")
    _check_choices(values)
    code = values.get("municipality_code", "112089")
    if len(code) != 6 or not code.isdigit():
        raise ConfigError("municipality_code must be 6 digits")
    return Settings(home=home_path, **values)


def _check_choices(values: dict[str, Any]) -> None:
    if values.get("validity_rule", "three-years") not in VALIDITY_RULES:
        raise ConfigError(f"validity_rule must be one of {', '.join(VALIDITY_RULES)}")
    if values.get("key_store", "file") not in ("file", "pkcs11"):
        raise ConfigError("key_store must be file or pkcs11")
    if values.get("key_store") == "pkcs11" and not (
            values.get("pkcs11_module") and values.get("pkcs11_token")):
        raise ConfigError("key_store = pkcs11 needs pkcs11_module and pkcs11_token")
    if not str(values.get("base_url", "http://x")).startswith("http://"):
        raise ConfigError("base_url must be an http:// URL (CRLs and OCSP are served over HTTP)")
    ocsp_url = str(values.get("ocsp_url", ""))
    if ocsp_url and (not ocsp_url.startswith("http://") or ocsp_url.endswith("/")):
        raise ConfigError("ocsp_url must be an http:// URL without a trailing / (RFC 5019 GET "
                          "requests append /<base64>), or empty for <base_url>/ocsp")
