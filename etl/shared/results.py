"""The validation report: every check that ran, passed or failed, as data (shown by etl.report.text)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# C0 (newline and tab included), DEL and C1: a value holding them could move the cursor, write the
# clipboard (an OSC sequence) or fake a line of the report on a terminal. They are shown escaped, as \x1b.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
MAX_SHOWN = 200  # characters of one value in a check's label, expected or actual
MAX_MESSAGE = 2000  # characters of one check's message (a value in it is shown whole up to here)


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


def shown(text: str, limit: int | None = MAX_SHOWN, newlines: bool = False) -> str:
    """`text` as it may be shown on a terminal, in JSON or HTML: control characters escaped (\\x1b), and at
    most `limit` characters, the rest counted. `newlines` keeps line breaks (a message of several lines)."""
    text = (_CONTROL_BUT_NEWLINE if newlines else _CONTROL).sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}…({len(text) - limit} more characters)"
    return text


def _value(value: Any) -> Any:
    """A value a check quotes, shown safely; a long list (e.g. the columns of a damaged file) is cut too."""
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, (list, tuple)) and len(value) > 20:
        return [_value(v) for v in value[:20]] + [f"… and {len(value) - 20} more"]
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    return value


def passed(check: str, table: str, label: str = "", expected: Any = None, actual: Any = None,
           line: int | None = None) -> CheckResult:
    return CheckResult(check=check, table=table, passed=True, label=shown(label), expected=_value(expected),
                       actual=_value(actual), line=line)


def failed(check: str, table: str, message: str, **kw: Any) -> CheckResult:
    """A failed check; the values it quotes (message, label, expected, actual) are shown safely (`shown`)."""
    for key in ("label", "field", "expected", "actual"):
        if key in kw:
            kw[key] = _value(kw[key])
    return CheckResult(check=check, table=table, passed=False, message=shown(message, MAX_MESSAGE), **kw)
