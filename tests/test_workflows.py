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
    """Cron and manual triggers; JSON and HTML reports always attached; only a valid new build reaches the commit job."""
    wf = _load("publish.yml")
    assert wf["on"]["schedule"][0]["cron"] and "workflow_dispatch" in wf["on"]
    build, commit, portal = wf["jobs"]["build"], wf["jobs"]["commit"], wf["jobs"]["portal"]
    steps = build["steps"]
    names = [s.get("name", "") for s in steps]
    assert ("tasks.py build --report build-report.json --html report.html"
            in next(s for s in steps if s.get("id") == "build")["run"])
    for artifact, path in (("build-report", "build-report.json"), ("report-html", "report.html")):
        report = next(s for s in steps if s.get("with", {}).get("name") == artifact)
        assert report["if"] == "always()" and report["with"]["path"] == path
    assert names.index("Fail loudly on an invalid or unreadable source") < names.index("Is there a new release?")
    assert "permissions" not in build and steps[0]["with"]["persist-credentials"] is False
    assert commit["needs"] == "build" and commit["if"] == "needs.build.outputs.new_release == 'true'"
    assert commit["permissions"] == {"contents": "write"}


def test_only_the_portal_job_sees_the_portal_token() -> None:
    """CKAN_API_TOKEN appears in the portal job alone, and never on a command line."""
    wf = _load("publish.yml")
    text = (REPO / ".github" / "workflows" / "publish.yml").read_text(encoding="utf-8")
    assert text.count("secrets.CKAN_API_TOKEN") == 2
    portal = wf["jobs"]["portal"]
    assert "secrets.CKAN_API_TOKEN" in portal["env"]["PORTAL_CONFIGURED"]
    publish = next(s for s in portal["steps"] if s.get("name") == "Publish the latest release to the portal")
    assert "secrets.CKAN_API_TOKEN" in publish["env"]["CKAN_API_TOKEN"] and "CKAN_API_TOKEN" not in publish["run"]
    for job in ("build", "commit"):
        assert "CKAN" not in str(wf["jobs"][job])


def test_test_workflow_installs_the_system_packages_before_the_tests() -> None:
    """GitHub's runners are not root: the workflow installs every Debian package the suite needs, with sudo."""
    from system_packages import PACKAGES

    steps = _load("test.yml")["jobs"]["test"]["steps"]
    runs = [s.get("run", "") for s in steps]
    install = next(i for i, r in enumerate(runs) if "sudo apt-get install" in r)
    assert "$(python3 tests/system_packages.py)" in runs[install] and install < runs.index("bash .ci/run")
    assert {"chromium", "fonts-noto-cjk", "fonts-ipaexfont", "postgresql"} <= set(PACKAGES)
