"""The tree is the pipeline: etl/ is made of stage packages whose imports run one way only."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

ETL = Path(__file__).resolve().parent.parent / "etl"
# The README's stages, in pipeline order. A stage imports `etl.errors`, `etl.shared` and the stages
# before it, never a later one; `cli` and `pipeline` wire them and are imported by none of them.
STAGES = ["source", "extract", "transform", "validate", "release", "report", "portal"]
TOP = {"__init__", "__main__", "cli", "pipeline", "errors"}
# Import levels from etl.cli down, counting the imports that run, and those of annotations too (13 and
# 13 before the stage packages): a stage reaches what it needs directly; see test_import_levels.
MAX_DEPTH = {True: 8, False: 9}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ETL.rglob("*.py")):
        parts = list(path.relative_to(ETL.parent).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(name: str, path: Path, runtime_only: bool) -> set[str]:
    """The etl modules that `name` imports, at module level or inside functions."""
    mods, found = _modules(), set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node) and runtime_only:
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            for a in node.names:
                found.add(f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m in mods and m != name}


@functools.cache
def _graph(runtime_only: bool) -> dict[str, set[str]]:
    return {name: _imports(name, path, runtime_only) for name, path in _modules().items()}


def _stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "etl"


def _allowed(module: str) -> set[str]:
    stage = _stage(module)
    if stage in {"cli", "pipeline", "__main__", "etl"}:
        return set(STAGES) | TOP | {"shared", "etl"}
    if stage == "errors":
        return set()
    if stage == "shared":
        return {"errors", "shared"}
    return {"errors", "shared", *STAGES[: STAGES.index(stage) + 1]}


def test_only_the_wiring_stays_at_the_top() -> None:
    """etl/ holds the stage packages plus cli, pipeline, errors, __init__ and __main__, nothing else."""
    top = {p.stem for p in ETL.glob("*.py")}
    packages = {p.name for p in ETL.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert top == TOP
    assert packages == {"shared", *STAGES}


@pytest.mark.parametrize("runtime_only", [True, False], ids=["runtime", "with-annotations"])
def test_imports_run_one_way(runtime_only: bool) -> None:
    """No module imports a later stage (nor cli or pipeline), not even for an annotation or in a function."""
    wrong = [f"{m} imports {d}" for m, deps in _graph(runtime_only).items() for d in sorted(deps)
             if _stage(d) not in _allowed(m)]
    assert wrong == []


def test_no_import_cycles() -> None:
    """The modules' imports (lazy ones included) form no circle."""
    graph = _graph(False)
    state: dict[str, int] = {}
    cycles: list[list[str]] = []

    def walk(m: str, path: list[str]) -> None:
        state[m] = 1
        for d in sorted(graph[m]):
            if state.get(d) == 1:
                cycles.append(path[path.index(d):] + [d] if d in path else [m, d])
            elif d not in state:
                walk(d, path + [d])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            walk(m, [m])
    assert cycles == []


def _depth(graph: dict[str, set[str]], module: str) -> int:
    """Levels of the longest import chain from `module` (a module importing nothing is 1)."""
    @functools.cache
    def depth(m: str) -> int:
        return 1 + max((depth(d) for d in graph[m]), default=0)
    return depth(module)


@pytest.mark.parametrize("runtime_only", [True, False], ids=["runtime", "with-annotations"])
def test_import_levels(runtime_only: bool) -> None:
    """The longest chain of imports from etl.cli stays short: a stage reaches the others directly."""
    assert _depth(_graph(runtime_only), "etl.cli") <= MAX_DEPTH[runtime_only]


@pytest.mark.parametrize("package", ["shared", *STAGES])
def test_each_package_says_what_it_owns_and_may_import(package: str) -> None:
    """Each stage package's docstring names every module it holds, and the packages it may import."""
    init = ETL / package / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    owns, _, may = doc.partition("Owns:")[2].partition("May import:")
    assert owns and may, f"{init}: the docstring needs 'Owns:' and 'May import:'"
    modules = {p.stem for p in (ETL / package).glob("*.py")} - {"__init__"}
    assert {m for m in modules if f"`{m}`" not in owns} == set()
    allowed = _allowed(f"etl.{package}") - {package}
    assert {a for a in allowed if f"`{a}`" not in may and f"etl.{a}" not in may} == set()


# ── every check in one place ──────────────────────────────────────────────────────────────


def _report_ids() -> set[str]:
    """Every check id in the reports of a build of the real document and of its published release."""
    from conftest import DATASET, REAL, REPO, VERSION

    from etl import pipeline
    from etl.validate.run import validate_dataset, validate_release

    build = validate_dataset(pipeline.load(REAL))
    release = validate_release(REPO / "published" / DATASET / VERSION)
    return {r.check for r in build.results + release.results}


def test_every_check_id_leads_to_one_function_in_validate() -> None:
    """Any check id a report holds (named, per table or of the source) is decided by one function of etl.validate."""
    from etl.validate.checks import CHECKS
    from etl.validate.run import SOURCE_CHECKS, find

    ids = _report_ids() | {c.check for c in CHECKS} | set(SOURCE_CHECKS)
    assert {"initiatives.sub_amount_within_budget", "agreement_counts.placement", "initiatives.schema",
            "initiative_partners.foreign_key.取組ID", "initiatives_parquet.integrity"} <= ids
    where = {i: f"{find(i).__module__}.{find(i).__qualname__}" for i in sorted(ids)}
    assert {i: w for i, w in where.items() if not w.startswith("etl.validate.")} == {}
    assert where["initiatives.sub_amount_within_budget"] == "etl.validate.checks.sub_amount_within_budget"
    with pytest.raises(KeyError):
        find("initiatives.no_such_check")


def test_every_check_id_says_in_japanese_what_it_checks() -> None:
    """The HTML report is in Japanese: each check id of a report has a Japanese title (etl.validate.run.title),
    one for each named check, family of per-table checks and source check; an unknown id has none."""
    import unicodedata

    from etl.validate.checks import CHECKS
    from etl.validate.run import SOURCE_CHECKS, title

    ids = _report_ids() | {c.check for c in CHECKS} | set(SOURCE_CHECKS)
    japanese = {i: title(i) for i in sorted(ids)}
    assert {i: t for i, t in japanese.items()
            if not any(unicodedata.name(ch, "").startswith(("CJK", "HIRAGANA", "KATAKANA")) for ch in t)} == {}
    assert len({c.title for c in CHECKS}) == len(CHECKS)  # each named check says its own
    with pytest.raises(KeyError):
        title("initiatives.no_such_check")


def test_only_validate_builds_check_results() -> None:
    """No stage but etl.validate makes a CheckResult: the checks computed from raw text are there too."""
    makers = {"passed", "failed", "CheckResult"}
    found = []
    for name, path in _modules().items():
        if name.startswith("etl.validate") or name == "etl.shared.results":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) in makers:
                found.append(f"{name}:{node.lineno}")
    assert found == []


def test_a_check_id_is_registered_once() -> None:
    """Registering a second function under an existing check id is refused."""
    from etl.validate.checks import TABLES, check

    with pytest.raises(ValueError, match="two checks are named"):
        check("initiatives.sub_amount_within_budget", "initiatives", TABLES, title="二度目")(lambda given, c: [])


def test_the_readme_shows_the_tree() -> None:
    """README's diagram names every stage, and its 'Where things are' list every module of each package."""
    readme = (ETL.parent / "README.md").read_text(encoding="utf-8")
    diagram = readme.split("## What it does", 1)[1].split("```")[1]
    assert [s for s in STAGES if s not in diagram] == []
    where = readme.split("### Where things are", 1)[1].split("```")[1]
    listed: dict[str, str] = {}
    package = None
    for line in where.splitlines():
        head = line[:13].strip()
        if head.endswith("/") and line.startswith("  "):
            package = head.rstrip("/")
        elif head:
            package = None
        if package:
            listed[package] = listed.get(package, "") + line[13:]
    for package in ["shared", *STAGES]:
        modules = {p.stem for p in (ETL / package).glob("*.py")} - {"__init__"}
        words = set(listed.get(package, "").replace("·", " ").replace("(", " ").split())
        assert modules - words == set(), f"README's 'Where things are' misses modules of etl/{package}/"
