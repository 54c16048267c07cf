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
ENV_PREFIX = "JPKI_"


class ConfigError(Exception):
    """A configuration that cannot be used; the message names the key."""


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one instance."""

    home: Path
    database_url: str
    municipality_code: str = "112089"  # the instance's default register (所沢市)

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
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{key} must be a non-empty string")
    if not values["database_url"].startswith(("sqlite:", "postgresql")):
        raise ConfigError("database_url must be a sqlite: or postgresql URL")
    code = values.get("municipality_code", "112089")
    if len(code) != 6 or not code.isdigit():
        raise ConfigError("municipality_code must be 6 digits")
    return Settings(home=home_path, **values)
