#!/usr/bin/env python3
"""The Debian packages the test suite needs: the browser tests' (tests/browser.py) and the CKAN
stack's (tests/ckan_stack.py). Printed one line, for the GitHub workflow's `sudo apt-get install`:
as root the suite installs the missing ones itself (tests/conftest.py)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from browser import APT_PACKAGES as BROWSER  # noqa: E402
from ckan_stack import APT_PACKAGES as CKAN  # noqa: E402

PACKAGES = tuple(dict.fromkeys(BROWSER + CKAN))

if __name__ == "__main__":
    print(" ".join(PACKAGES))
