"""End to end through the console script, as a pipeline calls it, in temporary catalogs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import DATASET, REAL, REPO, VERSION, edit, real_lines, run_etl, snapshot, write_doc

COMMANDS = ("build", "register", "validate", "diff", "publish", "report")


def test_help_lists_every_command_and_the_exit_codes() -> None:
    """`etl --help` names each command and the exit codes; each command has its own help."""
    result = run_etl("--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert command in result.stdout
        assert run_etl(command, "--help").returncode == 0
    assert "3  publishing failed" in result.stdout


def test_readme_documents_every_command_and_exit_code() -> None:
    """The README explains each command and each exit code a pipeline can act on."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for command in COMMANDS:
        assert f"etl {command}" in readme
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |"):
        assert code in readme


def test_python_dash_m_works() -> None:
    """`python -m etl` is the same program as the console script."""
    result = subprocess.run([sys.executable, "-m", "etl", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "build" in result.stdout


def test_python_dash_m_passes_the_exit_code_on(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "etl", "build", "--raw", tmp_path / "missing.txt",
                             "--out", tmp_path / "catalog"], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_main_called_in_a_long_lived_process_leaves_its_garbage_collector_alone(tmp_path: Path) -> None:
    """Only the `etl` program freezes the libraries' objects (etl.cli.run); a caller of main keeps
    its collector as it was, or every build it ran would pin its garbage for good."""
    import gc

    from etl.cli import main

    frozen, enabled = gc.get_freeze_count(), gc.isenabled()
    assert main(["build", "--raw", str(REAL), "--out", str(tmp_path / "catalog")]) == 0
    assert gc.get_freeze_count() == frozen and gc.isenabled() == enabled


@pytest.mark.parametrize("command", ["validate", "diff"])
def test_the_program_runs_its_command_with_the_collector_on(command: str) -> None:
    """`etl` loads its libraries with the garbage collector off (etl.cli.run); every command turns it
    on again, their objects frozen, before it works."""
    release = REPO / "published" / DATASET / VERSION
    args = [str(release)] * (2 if command == "diff" else 1)
    probe = ("import gc, sys\nfrom etl import cli\nran = cli._libraries_loaded\n"
             "def loaded():\n    ran()\n    print('collector on:', gc.isenabled(), gc.get_freeze_count() > 0)\n"
             "cli._libraries_loaded = loaded\n"
             f"sys.argv = ['etl', {command!r}, *{args!r}]\ncli.run()")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert "collector on: True True" in result.stdout


def test_the_library_runs_on_polars_in_memory_engine_and_leaves_the_callers_setting() -> None:
    """The build's thousand small queries run on the in-memory engine (etl.pipeline.small_tables); a
    caller's own engine setting is the same after the call."""
    import polars as pl

    from etl.pipeline import small_tables

    seen = small_tables(lambda: pl.Config.state(if_set=True).get("POLARS_ENGINE_AFFINITY"))
    with pl.Config(engine_affinity="streaming"):
        assert seen() == "in-memory"
        assert pl.Config.state(if_set=True).get("POLARS_ENGINE_AFFINITY") == "streaming"
    assert seen() == "in-memory"


@pytest.mark.parametrize("args", [[], ["frobnicate"], ["build", "--nope"], ["validate"], ["diff", "a"]])
def test_wrong_usage_exits_2(args: list[str]) -> None:
    """A missing or unknown command or option is a usage error: exit 2, a usage line, no traceback."""
    result = run_etl(*args)
    assert result.returncode == 2
    assert "usage:" in result.stderr and "Traceback" not in result.stderr


def test_build_defaults_to_the_newest_raw_document(tmp_path: Path) -> None:
    """Without --raw the build takes raw/'s newest document; validate passes on the new release."""
    result = run_etl("build", "--out", tmp_path, cwd=REPO)
    assert result.returncode == 0, result.stderr
    release = tmp_path / DATASET / VERSION
    assert f"published {release}" in result.stdout
    assert "0 failed" in result.stdout
    for target in (release, release / "datapackage.json"):
        check = run_etl("validate", target)
        assert check.returncode == 0, check.stdout
        assert "0 failed" in check.stdout


def test_newest_document_is_chosen_by_the_date_in_its_name(tmp_path: Path) -> None:
    """Of several raw documents the one with the latest date in its file name is built."""
    raw = tmp_path / "raw"
    write_doc(raw, name="koriyama-renkei-kyotei-2023-02-10.txt")
    write_doc(raw, data=b"", name="koriyama-renkei-kyotei-2022-01-31.txt")
    write_doc(raw, data=b"", name="koriyama-renkei-kyotei-2024-02-09.txt")
    result = run_etl("build", "--out", tmp_path / "c", cwd=tmp_path)
    assert result.returncode == 2 and "2024-02-09" in result.stderr


@pytest.mark.parametrize("what", ["missing", "folder"])
def test_unusable_raw_path_exits_2(tmp_path: Path, what: str) -> None:
    """A path that does not exist or is a folder: exit 2, one clear sentence, catalog untouched."""
    path = tmp_path / "nope.txt" if what == "missing" else tmp_path
    result = run_etl("build", "--raw", path, "--out", tmp_path / "catalog")
    assert result.returncode == 2
    assert str(path) in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "catalog").exists()


def test_validate_reports_a_tampered_release(published: Path, tmp_path: Path) -> None:
    """A changed value in a published CSV is caught: hash, types and invariants, all listed, exit 1."""
    release = tmp_path / "release"
    shutil.copytree(published, release)
    csv = release / "072036_agreement_counts.csv"
    text = csv.read_text(encoding="utf-8-sig").replace("人事,官,8", "人事,官,9").replace("人事,民,6", "人事,民,x")
    csv.write_text("\ufeff" + text, encoding="utf-8")
    report = tmp_path / "report.json"
    result = run_etl("validate", release, "--report", report)
    assert result.returncode == 1
    for words in ("agreement_counts.integrity", "agreement_counts.types", "「x」 is not a valid integer",
                  "agreement_counts.column_totals", "官 (line 30): printed 合計 54, cells sum to 55"):
        assert words in result.stdout
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["valid"] is False
    failure = next(f for f in data["failures"] if f["check"] == "agreement_counts.column_totals" and f["label"] == "官")
    assert failure["expected"] == 54 and failure["actual"] == 55 and failure["label"] == "官"
    assert set(failure) == {"check", "table", "label", "field", "expected", "actual", "message", "line"}


def test_validate_of_something_that_is_no_release_exits_2(tmp_path: Path) -> None:
    """A folder without datapackage.json is a usage error, said plainly."""
    result = run_etl("validate", tmp_path)
    assert result.returncode == 2 and "datapackage.json" in result.stderr


def test_report_lists_every_check_that_ran(tmp_path: Path) -> None:
    """--report on a good build lists each check as passed, the 295 check among them."""
    report = tmp_path / "report.json"
    assert run_etl("build", "--raw", REAL, "--out", tmp_path / "c", "--report", report).returncode == 0
    data = json.loads(report.read_text(encoding="utf-8"))
    checks = {c["check"]: c["passed"] for c in data["checks"]}
    assert data["valid"] and not data["failures"] and all(checks.values())
    for check in ("agreement_counts.grand_total", "agreement_counts.headline_total", "agreement_counts.placement",
                  "partnership_partners.count", "initiatives.amounts_assigned",
                  "partnership_activities.partner_resolution", "activity_partners.foreign_key.協定先ID"):
        assert check in checks


def _edition_2024(folder: Path) -> Path:
    lines = edit(real_lines(), 4, "2023年２月10日", "2024年２月９日")
    lines = edit(lines, 25, "人事 14 8 6", "人事 15 9 6")
    lines = edit(lines, 30, "合計 295 54", "合計 296 55")
    lines = edit(lines, 43, "295件", "296件")
    return write_doc(folder, lines, name="koriyama-renkei-kyotei-2024-02-09.txt")


def test_diff_shows_what_moved_between_editions(tmp_path: Path) -> None:
    """`etl diff` lists the counts and totals that changed between the 2023 and a 2024 edition."""
    catalog = tmp_path / "c"
    assert run_etl("build", "--raw", REAL, "--out", catalog).returncode == 0
    result = run_etl("build", "--raw", _edition_2024(tmp_path / "raw"), "--out", catalog)
    assert result.returncode == 0, result.stdout
    diff = run_etl("diff", catalog / DATASET / VERSION, catalog / DATASET / "2024-02-09")
    assert diff.returncode == 0
    assert "[agreement_counts] 0 added, 0 removed, 1 changed" in diff.stdout
    assert "協定種別=人事, 相手方区分=官: 協定数 8 → 9" in diff.stdout
    assert "[printed_totals] 0 added, 0 removed, 4 changed" in diff.stdout
    index = json.loads((catalog / "catalog.json").read_text(encoding="utf-8"))
    assert index["datasets"][0]["latest"] == "2024-02-09"


def test_failed_build_leaves_the_catalog_byte_for_byte(published: Path, tmp_path: Path) -> None:
    """After a real release, a bad document exits 1 and changes nothing in the catalog."""
    catalog = published.parent.parent
    before = snapshot(catalog)
    bad = write_doc(tmp_path, edit(real_lines(), 43, "295件", "296件"))
    result = run_etl("build", "--raw", bad, "--out", catalog)
    assert result.returncode == 1 and "nothing was published" in result.stderr
    assert snapshot(catalog) == before


def test_a_different_document_is_refused_with_exit_2(tmp_path: Path) -> None:
    """Another text altogether (here: this README) is not parsed into anything: exit 2, catalog untouched."""
    doc = write_doc(tmp_path, data=(REPO / "README.md").read_bytes())
    result = run_etl("build", "--raw", doc, "--out", tmp_path / "catalog")
    assert result.returncode == 2
    assert "section 1 heading" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "catalog").exists()


def test_diff_matches_rows_on_their_data_not_their_numbering(tmp_path: Path) -> None:
    """Reordering the 順不同 partner list changes 協定先ID but `etl diff` reports no change."""
    lines = edit(real_lines(), 4, "2023年２月10日", "2024年２月９日")
    lines[44], lines[45] = lines[45], lines[44]
    catalog = tmp_path / "c"
    assert run_etl("build", "--raw", REAL, "--out", catalog).returncode == 0
    doc = write_doc(tmp_path / "raw", lines, name="koriyama-renkei-kyotei-2024-02-09.txt")
    assert run_etl("build", "--raw", doc, "--out", catalog).returncode == 0
    diff = run_etl("diff", catalog / DATASET / VERSION, catalog / DATASET / "2024-02-09")
    assert diff.returncode == 0
    assert "= 時点: 2023-02-10 → 2024-02-09 (every row)" in diff.stdout
    assert "+ " not in diff.stdout and "- " not in diff.stdout and "~ " not in diff.stdout, diff.stdout


def test_validate_reports_damaged_files_without_crashing(published: Path, tmp_path: Path) -> None:
    """A truncated Parquet file and a CSV with a mangled header are failures in the report, exit 1."""
    release = tmp_path / "release"
    shutil.copytree(published, release)
    parquet = release / "072036_initiatives.parquet"
    parquet.write_bytes(parquet.read_bytes()[: parquet.stat().st_size // 2])
    csv = release / "072036_initiative_items.csv"
    csv.write_bytes(csv.read_bytes().replace("項目番号".encode(), "項目".encode(), 1))
    result = run_etl("validate", release)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "072036_initiatives.parquet is not readable Parquet" in result.stdout
    assert "072036_initiative_items.csv lacks columns ['項目番号']" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr and "internal error" not in result.stderr
    diff = run_etl("diff", published, release)
    assert diff.returncode == 2 and "run etl validate on it first" in diff.stderr


def test_diff_names_the_bullets_and_rows_a_new_edition_dropped(tmp_path: Path) -> None:
    """One bullet and one whole section-3 row fewer show as exactly those removals, not renumbering noise."""
    lines = edit(real_lines(), 4, "2023年２月10日", "2024年２月９日")
    lines = lines[:219] + lines[220:256] + lines[262:]  # drop line 220 (a bullet) and lines 257-262 (a row)
    catalog = tmp_path / "c"
    assert run_etl("build", "--raw", REAL, "--out", catalog).returncode == 0
    doc = write_doc(tmp_path / "raw", lines, name="koriyama-renkei-kyotei-2024-02-09.txt")
    assert run_etl("build", "--raw", doc, "--out", catalog).returncode == 0, "edition must build"
    out = run_etl("diff", catalog / DATASET / VERSION, catalog / DATASET / "2024-02-09").stdout
    assert "[partnership_activities] 0 added, 3 removed, 0 changed" in out
    assert "- 取組内容=市の施策やイベントなどの市政情報を広く市民に発信するために広報紙を毎月配置" in out
    assert "[activity_partners] 0 added, 1 removed, 0 changed" in out
    assert "協定先ID:協定先名称=明治安田生命保険相互会社" in out
    assert "[activity_fields] 0 added, 2 removed, 0 changed" in out


@pytest.mark.parametrize("option", ["--report", "--html", "both"])
def test_a_report_that_cannot_be_written_is_exit_3_naming_the_file(
        capfd, tmp_path: Path, option: str) -> None:
    """The release is published, but --report or --html cannot be written (its folder does not exist): exit 3
    naming it, so that a pipeline that uploads the report does not find none after a green run."""
    from etl.cli import main

    blocked = tmp_path / "no-such-folder"
    wanted = {"--report": blocked / "r.json", "--html": blocked / "r.html"}
    args = [a for o in (["--report", "--html"] if option == "both" else [option]) for a in (o, str(wanted[o]))]
    code = main(["build", "--raw", str(REAL), "--out", str(tmp_path / "catalog"), *args])
    out, err = capfd.readouterr()
    assert code == 3, out + err
    for o in (["--report", "--html"] if option == "both" else [option]):
        assert f"{o} {wanted[o]}" in err, err
    assert (tmp_path / "catalog" / DATASET / VERSION / "datapackage.json").exists()  # the data was fine


def test_the_json_report_says_when_the_page_is_missing(capfd, tmp_path: Path) -> None:
    """With --report written and --html not: the JSON's outcome has exit code 3 and names the missing page."""
    from etl.cli import main

    report = tmp_path / "r.json"
    code = main(["build", "--raw", str(REAL), "--out", str(tmp_path / "c"), "--report", str(report),
                 "--html", str(tmp_path / "f" / "r.html")])
    capfd.readouterr()
    outcome = json.loads(report.read_text(encoding="utf-8"))["outcome"]
    assert code == 3 and outcome["exit_code"] == 3 and outcome["outputs_missing"] == [f"--html {tmp_path}/f/r.html"]


def test_validate_with_an_unwritable_report_is_exit_3(capfd, published: Path, tmp_path: Path) -> None:
    """etl validate of a valid release whose --report cannot be written: exit 3, the file named."""
    from etl.cli import main

    code = main(["validate", str(published), "--report", str(tmp_path / "f" / "r.json")])
    _, err = capfd.readouterr()
    assert code == 3 and f"--report {tmp_path / 'f' / 'r.json'}" in err, err
