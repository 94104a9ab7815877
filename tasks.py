#!/usr/bin/env python3
"""Set up the project's virtual environment and run its two jobs: `build` and `test`.

Needs only Python 3.11+ with venv and pip. The environment lives in `.venv/` and is
(re)installed whenever `pyproject.toml` changes, so a fresh clone needs nothing else.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".installed-pyproject.sha256"


def _pyproject_digest() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def ensure_env() -> None:
    """Create `.venv` and install the package with its test extras unless already current."""
    if STAMP.exists() and STAMP.read_text() == _pyproject_digest():
        return
    if not (BIN / "python").exists():
        print("tasks: creating virtual environment in .venv", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(VENV)
    print("tasks: installing the package and its test dependencies", file=sys.stderr)
    pip = [str(BIN / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-e", f"{ROOT}[test]"], check=True)
    STAMP.write_text(_pyproject_digest())


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"build", "test", "setup"}:
        print("usage: python3 tasks.py {build|test|setup} [args...]", file=sys.stderr)
        return 2
    ensure_env()
    job, rest = argv[0], argv[1:]
    if job == "setup":
        return 0
    if job == "build":
        cmd = [str(BIN / "etl"), "build", *rest]
    else:
        cmd = [str(BIN / "python"), "-m", "pytest", *rest]
    return subprocess.run(cmd, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
