"""The instance configuration: the OCSP URL that certificates name."""

from __future__ import annotations

from pathlib import Path

import pytest

from web.config import ConfigError, load_settings


def test_the_ocsp_url_defaults_to_the_base_url_and_may_name_the_responders_own_front(
        tmp_path: Path) -> None:
    assert load_settings(tmp_path, environ={}).ocsp_url == ""
    (tmp_path / "jpki.toml").write_text('ocsp_url = "http://ocsp.city.example:8001/ocsp"\n')
    assert load_settings(tmp_path, environ={}).ocsp_url == "http://ocsp.city.example:8001/ocsp"
    assert load_settings(tmp_path, environ={"JPKI_OCSP_URL": "http://o.example/ocsp"}
                         ).ocsp_url == "http://o.example/ocsp"


@pytest.mark.parametrize("url", ["https://o.example/ocsp", "http://o.example/ocsp/", "ocsp"])
def test_an_ocsp_url_that_clients_cannot_use_is_refused(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match="ocsp_url"):
        load_settings(tmp_path, environ={"JPKI_OCSP_URL": url})
