"""System tools for interop tests, installed from Debian with apt-get when missing.

A tool that cannot be installed fails the test (never a skip): the interop tests are part of
what the suite proves.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable

import pytest

# Wait for another apt/dpkg run instead of failing on its lock.
APT_GET = ["apt-get", "-o", "DPkg::Lock::Timeout=300"]


def install(*packages: str, present: Callable[[], bool]) -> None:
    """``apt-get install`` ``packages`` unless ``present()``; the package lists are refreshed
    once if the first attempt fails; fails the test if ``present()`` is still false."""
    if present():
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = [*APT_GET, "install", "-y", "--no-install-recommends", *packages]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:  # a stale package list: update once and try again
        subprocess.run([*APT_GET, "update", "-q"], env=env, capture_output=True)
        done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0 or not present():
        pytest.fail(f"cannot install {', '.join(packages)}: {done.stderr[-2000:]}")


def tool(command: str, package: str | None = None) -> str:
    """The path of ``command``, installing ``package`` (default: the command's name) first
    when the machine lacks it."""
    install(package or command, present=lambda: shutil.which(command) is not None)
    found = shutil.which(command)
    assert found is not None
    return found
