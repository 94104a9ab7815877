"""The validation report: every check that ran, passed or failed, as data (shown by etl.report.text)."""

from __future__ import annotations

from dataclasses import dataclass, field
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


def passed(check: str, table: str, label: str = "", expected: Any = None, actual: Any = None,
           line: int | None = None) -> CheckResult:
    return CheckResult(check=check, table=table, passed=True, label=label, expected=expected, actual=actual,
                       line=line)


def failed(check: str, table: str, message: str, **kw: Any) -> CheckResult:
    return CheckResult(check=check, table=table, passed=False, message=message, **kw)
