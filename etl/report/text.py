"""The report as a steward reads it on the terminal, and as a pipeline reads it (JSON)."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from etl.shared.results import CheckResult, Report


def to_json(report: Report) -> str:
    """`--report FILE`: valid, every check that ran (with what it compared), every failure, the outcome."""
    payload = {
        "valid": report.valid,
        "checks": [_summary(report, c, ok) for c, ok in report.checks().items()],
        "failures": [_public(r) for r in report.failures],
    }
    if report.outcome is not None:
        payload["outcome"] = report.outcome
    return json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n"


def _summary(report: Report, check: str, ok: bool) -> dict[str, Any]:
    """One check: its table, whether it passed, and the values it compared when it did."""
    results = [r for r in report.results if r.check == check]
    compared = [{"label": r.label, "expected": r.expected, "actual": r.actual}
                | ({"line": r.line} if r.line is not None else {})
                for r in results if r.passed and (r.label or r.expected is not None)]
    entry: dict[str, Any] = {"check": check, "table": results[0].table, "passed": ok,
                             "failures": sum(not r.passed for r in results)}
    if compared:
        entry["compared"] = compared
    return entry


def render(report: Report) -> str:
    """The steward's view: a summary line, then failures grouped by table."""
    checks = report.checks()
    failed = [c for c, ok in checks.items() if not ok]
    lines = [f"{len(checks)} checks ran, {len(checks) - len(failed)} passed, {len(failed)} failed."]
    for table in dict.fromkeys(r.table for r in report.failures):
        lines.append(f"\n[{table}]")
        for r in (r for r in report.failures if r.table == table):
            lines.append(f"  ✗ {r.check}: {r.message}")
    return "\n".join(lines)


def _public(r: CheckResult) -> dict[str, Any]:
    d = asdict(r)
    d.pop("passed")
    if d["line"] is None:
        d.pop("line")
    return d
