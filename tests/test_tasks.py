"""tasks.py's environments: which are reused, reinstalled in place, or made afresh. Creating a real
environment takes a minute, so venv and pip are replaced by recorders here; the fresh-clone runs of
the README's two commands are what show them for real."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
from conftest import REPO


@pytest.fixture
def tasks(tmp_path: Path, monkeypatch):
    shutil.copy(REPO / "tasks.py", tmp_path)
    shutil.copy(REPO / "pyproject.toml", tmp_path)
    spec = importlib.util.spec_from_file_location("tasks_under_test", tmp_path / "tasks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.calls = []

    def create(self, env):
        (Path(env) / "bin").mkdir(parents=True, exist_ok=True)
        (Path(env) / "bin" / "python").touch()
        module.calls.append("create")

    monkeypatch.setattr(module.venv.EnvBuilder, "create", create)
    monkeypatch.setattr(module.subprocess, "run", lambda cmd, **kw: module.calls.append(("pip", cmd[-1])))
    return module


def _existing(env: Path, stamp: str | None) -> Path:
    (env / "bin").mkdir(parents=True)
    (env / "bin" / "python").touch()
    (env / "left-by-another-install").touch()
    if stamp is not None:
        (env / ".installed-pyproject.sha256").write_text(stamp)
    return env


@pytest.mark.parametrize("stamp", [None, "a" * 64, "{digest} extras=[test]"],
                         ids=["no stamp (cut short, or by hand)", "before extras were recorded", "test extras"])
def test_an_environment_that_may_hold_other_packages_is_made_afresh(tasks, stamp) -> None:
    env = tasks.ENVS["run"][0]
    digest = tasks._stamp("").split()[0]
    _existing(env, None if stamp is None else stamp.format(digest=digest))
    tasks.ensure_env("run")
    assert tasks.calls == ["create", ("pip", f"{tasks.ROOT}")]
    assert not (env / "left-by-another-install").exists()
    assert (env / ".installed-pyproject.sha256").read_text() == tasks._stamp("")


def test_the_same_extras_are_reinstalled_in_place_when_pyproject_changes_and_else_reused(tasks) -> None:
    env = _existing(tasks.ENVS["test"][0], "b" * 64 + " extras=[test]")
    tasks.ensure_env("test")
    assert tasks.calls == [("pip", f"{tasks.ROOT}[test]")] and (env / "left-by-another-install").exists()
    tasks.calls.clear()
    tasks.ensure_env("test")
    assert tasks.calls == []


def test_the_main_job_and_the_tests_have_environments_of_their_own(tasks) -> None:
    assert tasks.ENVS["run"] == (tasks.ROOT / ".venv", "")
    assert tasks.ENVS["test"] == (tasks.ROOT / ".venv-test", "[test]")
