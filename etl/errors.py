"""The project's errors. Each carries a message written for a data steward."""

from __future__ import annotations


class EtlError(Exception):
    """Base class: anything the CLI turns into a message and an exit code."""

    exit_code = 2
    check = ""  # the report's check id for an input refused before validation ("" = no report)
    expected = actual = None  # what the check compared, when it compared values


class SourceError(EtlError):
    """The input file cannot be read as a text document (missing, binary, wrong encoding…)."""

    check = "source.readable"


class RegistrationError(SourceError):
    """The document does not match its record in raw/datapackage.json, or has none."""

    check = "source.registered"


class LayoutError(EtlError):
    """The text is readable but its layout is not the expected document's."""

    check = "source.layout"

    def __init__(self, message: str, line: int | None = None, page: int | None = None):
        self.line, self.page, self.bare = line, page, message
        where = (f"line {line} (page {page}): " if page else f"line {line}: ") if line else ""
        super().__init__(where + message)


class UsageError(EtlError):
    """The command was used wrongly (bad path, bad option)."""


class PublishError(EtlError):
    """Writing the release failed (disk full, permissions, lock held); the catalog is unchanged."""

    exit_code = 3
