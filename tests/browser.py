"""A real headless Chromium (Debian's package) for the tests that need a browser.

`chromium()` returns the path of the browser. The suite's controller installs Debian's `chromium`
and Japanese fonts with apt-get before any test starts, when they are missing and the tests run as
root (tests/conftest.py, with the CKAN stack's packages), so that the README's test command needs
nothing installed by hand; `chromium()` installs them itself only when run outside the suite. `headless(...)`
runs it once with the flags this closed network needs: without the background-networking flags
Chromium keeps trying to reach Google's hosts and every start waits on refused connections.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

# Chromium and the Japanese fonts, and Pango, with which WeasyPrint lays out the ruled facsimile
# (tools/facsimile_ruled.py); Debian's Python images have Pango, a minimal system may not.
APT_PACKAGES = ("chromium", "fonts-noto-cjk", "fonts-ipaexfont", "libpango-1.0-0", "libpangoft2-1.0-0")
FONT_FILES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
              "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars")
_LOCK = Path(tempfile.gettempdir()) / "etl-tests-apt.lock"


class BrowserUnavailable(RuntimeError):
    """Chromium is not installed and cannot be installed here."""


def missing_packages() -> list[str]:
    """The Debian packages of APT_PACKAGES whose program or font file is not there."""
    from ctypes.util import find_library

    have = {"chromium": shutil.which("chromium") is not None,
            "fonts-noto-cjk": Path(FONT_FILES[0]).exists(), "fonts-ipaexfont": Path(FONT_FILES[1]).exists(),
            "libpango-1.0-0": find_library("pango-1.0") is not None,
            "libpangoft2-1.0-0": find_library("pangoft2-1.0") is not None}
    return [p for p in APT_PACKAGES if not have[p]]


def _missing() -> bool:
    return bool(missing_packages())


def chromium() -> str:
    """The path of Debian's chromium, installed (with Japanese fonts) if it is not there yet."""
    if _missing():
        if os.geteuid() != 0:
            raise BrowserUnavailable("chromium and Japanese fonts are missing; as root the tests install "
                                     f"them: apt-get install {' '.join(APT_PACKAGES)}")
        with open(_LOCK, "w") as lock:  # two test processes (or workers) never run apt at once
            fcntl.flock(lock, fcntl.LOCK_EX)
            if _missing():
                env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
                apt = ["apt-get", "-q", "-o", "DPkg::Lock::Timeout=600"]
                subprocess.run([*apt, "update"], check=True, env=env, capture_output=True)
                subprocess.run([*apt, "install", "-y", "--no-install-recommends", *APT_PACKAGES],
                               check=True, env=env, capture_output=True)
    path = shutil.which("chromium")
    if path is None:
        raise BrowserUnavailable("apt-get installed chromium, but it is not on PATH")
    return path


def headless(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium once with `args` (e.g. --print-to-pdf=F URL) in a fresh profile."""
    with tempfile.TemporaryDirectory(prefix="etl-chromium-") as profile:
        cmd = [chromium(), *FLAGS, f"--user-data-dir={profile}", *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
