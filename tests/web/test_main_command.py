"""The main command (``make run`` = ``jpki init`` + ``jpki demo --serve``), in a subprocess.

A fresh instance on the embedded default (SQLite in the instance folder): the first run loads
the demo data and serves; a second run on the same instance skips the scripted day and serves.
Each run listens on a free loopback port (``--port 0``) and is stopped with SIGTERM, as a
terminal's Ctrl-C or a service manager would.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

JPKI = Path(sys.executable).parent / "jpki"
STARTUP = 120.0  # seconds: the first run generates CA keys and a few hundred residents
SERVING = re.compile(r"serving on (http://127\.0\.0\.1:\d+)")


def _environment(home: Path) -> dict[str, str]:
    """The caller's environment without any JPKI_* setting, on a fresh instance folder."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("JPKI_")}
    env["JPKI_HOME"] = str(home)
    env["COLUMNS"] = "200"
    return env


@contextmanager
def serving(home: Path) -> Iterator[tuple[str, list[str]]]:
    """Run ``jpki demo --serve --port 0``; yield its URL and the lines printed so far."""
    process = subprocess.Popen([str(JPKI), "demo", "--serve", "--port", "0"],
                               env=_environment(home), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, encoding="utf-8")
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    seen: list[str] = []
    try:
        url = None
        while url is None:
            line = lines.get(timeout=STARTUP)
            assert line is not None, "jpki demo --serve ended:\n" + "\n".join(seen)
            seen.append(line)
            found = SERVING.search(line)
            url = found.group(1) if found else None
        while not any("Ctrl-C" in line for line in seen):  # the rest of the banner
            line = lines.get(timeout=10)
            assert line is not None, "\n".join(seen)
            seen.append(line)
        yield url, seen
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        while (line := lines.get(timeout=10)) is not None:
            seen.append(line)
        assert seen[-1] == "stopped"


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode("utf-8")


def test_make_run_serves_the_demo_and_a_second_run_just_serves(tmp_path: Path) -> None:
    home = tmp_path / "instance"
    init = subprocess.run([str(JPKI), "init"], env=_environment(home), capture_output=True,
                          text=True, timeout=60)
    assert init.returncode == 0, init.stdout + init.stderr

    with serving(home) as (url, lines):
        output = "\n".join(lines)
        assert "国外転入" in output  # the scripted day ran
        for expected in ("/counter/", "/portal/", "/counter/dashboard", "/metrics",
                         "DEMO ONLY", "demo-clerk", "demo-chief", "demo-password-0000"):
            assert expected in output
        status, page = _get(url + "/counter/login")
        assert status == 200 and 'id="login-form"' in page
        status, body = _get(url + "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"

    with serving(home) as (url, lines):
        output = "\n".join(lines)
        assert "国外転入" not in output and "already in place" in output
        status, body = _get(url + "/healthz")
        assert status == 200 and json.loads(body)["status"] == "ok"
        status, _ = _get(url + "/counter/login")
        assert status == 200
