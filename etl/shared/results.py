"""The validation report: every check that ran, passed or failed, as data."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class CheckResult:
    """One check on one table/row: what was expected and what was found."""

    check: str
    table: str
    passed: bool
    label: str = ""
    field: str = ""
    expected: Any = None
    actual: Any = None
    message: str = ""
    line: int | None = None  # the line of the source text the compared value was read from


@dataclass
class Report:
    """All results of a validation run; valid when nothing failed."""

    results: list[CheckResult] = field(default_factory=list)
    outcome: dict[str, Any] | None = None  # what the command did with the data (published, refused…)

    def add(self, results: list[CheckResult] | CheckResult) -> None:
        self.results.extend([results] if isinstance(results, CheckResult) else results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]

    @property
    def valid(self) -> bool:
        return not self.failures

    def checks(self) -> dict[str, bool]:
        """Each check id that ran, and whether every one of its results passed."""
        status: dict[str, bool] = {}
        for r in self.results:
            status[r.check] = status.get(r.check, True) and r.passed
        return status

    def to_json(self) -> str:
        payload = {
            "valid": self.valid,
            "checks": [self._summary(c, ok) for c, ok in self.checks().items()],
            "failures": [_public(r) for r in self.failures],
        }
        if self.outcome is not None:
            payload["outcome"] = self.outcome
        return json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n"

    def _summary(self, check: str, ok: bool) -> dict[str, Any]:
        """One check: its table, whether it passed, and the values it compared when it did."""
        results = [r for r in self.results if r.check == check]
        compared = [{"label": r.label, "expected": r.expected, "actual": r.actual}
                    | ({"line": r.line} if r.line is not None else {})
                    for r in results if r.passed and (r.label or r.expected is not None)]
        entry: dict[str, Any] = {"check": check, "table": results[0].table, "passed": ok,
                                 "failures": sum(not r.passed for r in results)}
        if compared:
            entry["compared"] = compared
        return entry

    def render(self) -> str:
        """The steward's view: a summary line, then failures grouped by table."""
        checks = self.checks()
        failed = [c for c, ok in checks.items() if not ok]
        lines = [f"{len(checks)} checks ran, {len(checks) - len(failed)} passed, {len(failed)} failed."]
        for table in dict.fromkeys(r.table for r in self.failures):
            lines.append(f"\n[{table}]")
            for r in (r for r in self.failures if r.table == table):
                lines.append(f"  ✗ {r.check}: {r.message}")
        return "\n".join(lines)


def _public(r: CheckResult) -> dict[str, Any]:
    d = asdict(r)
    d.pop("passed")
    if d["line"] is None:
        d.pop("line")
    return d


def passed(check: str, table: str, label: str = "", expected: Any = None, actual: Any = None,
           line: int | None = None) -> CheckResult:
    return CheckResult(check=check, table=table, passed=True, label=label, expected=expected, actual=actual,
                       line=line)


def failed(check: str, table: str, message: str, **kw: Any) -> CheckResult:
    return CheckResult(check=check, table=table, passed=False, message=message, **kw)
