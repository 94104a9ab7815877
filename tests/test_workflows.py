"""The GitHub Actions workflows: valid for actionlint, pinned, least privilege, doing what they say."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))


def _actionlint() -> str:
    exe = Path(sys.executable).with_name("actionlint")
    return str(exe) if exe.exists() else shutil.which("actionlint") or pytest.fail("actionlint is not installed")


def test_actionlint_passes_on_every_workflow() -> None:
    """actionlint finds nothing to report in .github/workflows/."""
    result = subprocess.run([_actionlint(), *map(str, WORKFLOWS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    """The lint is real: an undefined context property fails it."""
    bad = tmp_path / "bad.yml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.nope }}\n")
    assert subprocess.run([_actionlint(), str(bad)], capture_output=True).returncode == 1


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_commits_and_permissions_are_minimal(path: Path) -> None:
    """Every `uses:` names a full commit SHA; the workflow's default token can only read."""
    text = path.read_text(encoding="utf-8")
    uses = re.findall(r"uses:\s*(\S+)", text)
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses
    assert yaml.safe_load(text)["permissions"] == {"contents": "read"}


def _load(name: str) -> dict:
    data = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text(encoding="utf-8"))
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def test_test_workflow_runs_the_readme_test_command() -> None:
    """On push and pull request, the test workflow runs .ci/run (= python3 tasks.py test)."""
    wf = _load("test.yml")
    assert {"push", "pull_request"} <= set(wf["on"])
    runs = [s.get("run", "") for s in wf["jobs"]["test"]["steps"]]
    assert "bash .ci/run" in runs
    assert "python3 tasks.py test" in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_publish_workflow_is_scheduled_reports_and_commits_only_valid_releases() -> None:
    """Cron and manual triggers; report artifact and summary always; commit after the validity gate."""
    wf = _load("publish.yml")
    assert wf["on"]["schedule"][0]["cron"] and "workflow_dispatch" in wf["on"]
    steps = wf["jobs"]["build"]["steps"]
    names = [s.get("name", "") for s in steps]
    build = next(s for s in steps if s.get("id") == "build")
    assert "tasks.py build --report build-report.json" in build["run"]
    upload = next(s for s in steps if "upload-artifact" in s.get("uses", ""))
    assert upload["if"] == "always()"
    gate = names.index("Fail loudly on an invalid or unreadable source")
    assert gate < names.index("Commit a new release") < names.index("Publish the latest release to the portal")
    assert wf["jobs"]["build"]["permissions"] == {"contents": "write"}
    portal = steps[names.index("Publish the latest release to the portal")]
    assert "secrets.CKAN_API_TOKEN" in portal["env"]["CKAN_API_TOKEN"] and "CKAN_API_TOKEN" not in portal["run"]
