#!/usr/bin/env python3
"""Set up the project's virtual environments and run its two jobs: `build` and `test`.

Needs only Python 3.11+ with venv and pip. `build` (and `setup`) run in `.venv/`, which holds the
package and its own dependencies only, as a deployment installs it: the test tools are not there, so
the main job runs as it does in production (pandera, for one, loads hypothesis when it can, ~0.1 s
of every build) and a dependency the package forgot to declare fails there first. `test` runs in
`.venv-test/`, the package with its test extras. Each is (re)installed whenever `pyproject.toml`
changes, so a fresh clone needs nothing else.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
ENVS = {"run": (ROOT / ".venv", ""), "test": (ROOT / ".venv-test", "[test]")}  # (folder, extras)
STAMP_NAME = ".installed-pyproject.sha256"


def bin_dir(env: Path) -> Path:
    return env / ("Scripts" if os.name == "nt" else "bin")


def _stamp(extras: str) -> str:
    """What an environment was installed from: pyproject.toml, and the extras asked for."""
    return f"{hashlib.sha256((ROOT / 'pyproject.toml').read_bytes()).hexdigest()} extras={extras}"


def ensure_env(kind: str) -> Path:
    """Create the environment of `kind` ("run" or "test") and install the package into it, unless
    it is current; its bin folder. An environment whose extras are not known to be these (another
    job's, none recorded as `.venv` had the test extras before, or no stamp at all: an install cut
    short, or one made by hand) is made afresh, since pip would leave other packages in place."""
    env, extras = ENVS[kind]
    stamp = env / STAMP_NAME
    recorded = stamp.read_text() if stamp.exists() else None
    if recorded == _stamp(extras):
        return bin_dir(env)
    if env.exists() and (recorded is None or recorded.partition(" ")[2] != f"extras={extras}"):
        print(f"tasks: {env.name} may hold other packages than its job's; making it afresh", file=sys.stderr)
        shutil.rmtree(env)
    if not (bin_dir(env) / "python").exists():
        print(f"tasks: creating virtual environment in {env.name}", file=sys.stderr)
        venv.EnvBuilder(with_pip=True).create(env)
    what = "the package and its test dependencies" if extras else "the package and its dependencies"
    print(f"tasks: installing {what} into {env.name}", file=sys.stderr)
    pip = [str(bin_dir(env) / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "install", "-e", f"{ROOT}{extras}"], check=True)
    stamp.write_text(_stamp(extras))
    return bin_dir(env)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"build", "test", "setup"}:
        print("usage: python3 tasks.py {build|test|setup} [args...]", file=sys.stderr)
        return 2
    job, rest = argv[0], argv[1:]
    if job == "setup":
        ensure_env("run")
        return 0
    if job == "build":
        cmd = [str(ensure_env("run") / "etl"), "build", *rest]
    else:
        cmd = [str(ensure_env("test") / "python"), "-m", "pytest", *rest]
    return subprocess.run(cmd, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
