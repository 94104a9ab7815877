"""The `etl` command: a thin layer over `etl.pipeline` that turns outcomes into exit codes.

Exit codes: 0 success; 1 the data is invalid (every failure listed) or a release of that version
already exists with other content; 2 the input cannot be read or parsed, does not match its
registered size and hash (or has none), or the command was used wrongly; 3 publishing failed for
a reason outside the data (disk full, permissions, another build holding the catalog). On any
non-zero exit the catalog is unchanged.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

from etl.errors import EtlError

# The pipeline (polars, pandera, frictionless) is imported by the commands that need it, so that
# `etl --help` and usage errors answer at once.

EXIT_OK, EXIT_INVALID, EXIT_INPUT, EXIT_PUBLISH = 0, 1, 2, 3
EPILOG = """exit codes:
  0  success (published, already published with identical content, or a dry run that passed)
  1  the data is invalid (every failure listed), or the version exists with other content
  2  the input cannot be read or parsed, is not the registered file, or the command was used wrongly;
     also a release (or raw/, or catalog) that refers outside its folder, holds a link, or exceeds a limit
  3  publishing failed (disk full, permissions, another build holds the catalog)
On any non-zero exit the catalog is unchanged."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="etl",
        description="Build, validate and publish Koriyama City's partnership-agreement open data.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    b = sub.add_parser("build", help="extract, validate and publish one release into the catalog")
    b.add_argument("--raw", type=Path, help="source document, the city's PDF or a text of it (default: the newest "
                        "raw/*.pdf or raw/*.txt by the date in its name; for one date the PDF)")
    b.add_argument("--out", type=Path, default=Path("published"), help="catalog folder (default: published/)")
    b.add_argument("--version", help="publish under this version name instead of the as-of date")
    b.add_argument("--report", type=Path, help="also write the validation report as JSON to this file")
    b.add_argument("--html", type=Path, metavar="FILE",
                   help="also write the report as a self-contained HTML page (checks, tables, charts)")
    b.add_argument("--dry-run", action="store_true",
                   help="run every check and verify the release in a temporary folder, but publish nothing; "
                        "also takes a document not yet registered")
    r = sub.add_parser("register", help="record a source document's size and SHA-256 so builds can prove it complete",
                       description="Writes the file's bytes and hash into datapackage.json in its folder (a "
                                   "Frictionless data package). `etl build` refuses a document that no longer "
                                   "matches its record, or that has none.")
    r.add_argument("files", type=Path, nargs="+", metavar="FILE", help="source document(s), e.g. raw/*.pdf")
    r.add_argument("--replace", action="store_true",
                   help="overwrite the record of one file that has changed (a corrected extraction)")
    v = sub.add_parser("validate", help="re-validate a published release from its files")
    v.add_argument("path", type=Path, help="a release folder or its datapackage.json")
    v.add_argument("--report", type=Path, help="also write the validation report as JSON to this file")
    c = sub.add_parser("publish", help="create or update the release's dataset on a CKAN portal",
                       description="The API token is read from the environment variable CKAN_API_TOKEN.")
    c.add_argument("release", type=Path, help="a release folder or its datapackage.json")
    c.add_argument("--ckan", required=True, metavar="URL", help="the portal's base URL")
    c.add_argument("--organization", required=True, metavar="ORG", help="the CKAN organisation owning the dataset")
    c.add_argument("--insecure", action="store_true",
                   help="allow a plain http:// portal on another machine (the token then travels in clear text)")
    h = sub.add_parser("report", help="write a published release's HTML report (checks, tables, charts, diff)")
    h.add_argument("release", type=Path, help="a release folder or its datapackage.json")
    h.add_argument("--against", type=Path, metavar="OLD", help="an older release: show what changed since it")
    h.add_argument("--html", type=Path, default=Path("report.html"), metavar="FILE",
                   help="where to write the page (default: report.html)")
    h.add_argument("--source", type=Path, metavar="FILE",
                   help="the document the release was built from (its PDF, or the text): the page then shows "
                        "where the count table and each placed cell are printed; it must give the release's tables")
    d = sub.add_parser("diff", help="what changed between two releases, table by table")
    d.add_argument("old", type=Path, help="the older release (folder or datapackage.json)")
    d.add_argument("new", type=Path, help="the newer release (folder or datapackage.json)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        commands = {"build": _build, "register": _register, "validate": _validate, "publish": _publish,
                    "diff": _diff, "report": _report}
        return commands[args.command](args)
    except EtlError as exc:
        from etl.shared.results import shown

        # a message may quote the input (a line, a path, a portal's words): no raw control character
        print(f"etl {args.command}: {shown(str(exc), limit=None, newlines=True)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"etl {args.command}: interrupted; the catalog is unchanged.", file=sys.stderr)
        return 130
    except BaseException as exc:  # noqa: BLE001 - a bug (or a Rust panic, which is no Exception)
        if isinstance(exc, SystemExit):
            raise
        print(f"etl {args.command}: internal error ({type(exc).__name__}: {exc}). The catalog is "
              "unchanged. Please report this with the input file.", file=sys.stderr)
        return EXIT_INPUT


_PROGRAM = False  # True when this process is the `etl` program (see run)


def run() -> None:
    """The `etl` program: `main`, with the garbage collector told that the libraries stay loaded."""
    global _PROGRAM
    _PROGRAM = True
    # Loading the libraries makes a few hundred thousand objects that live until the end: collecting
    # while they load frees nothing and takes ~0.1 s. The collector is on again once a command has
    # loaded what it needs (_libraries_loaded).
    gc.disable()
    code = main()
    # Every file is written and closed by now. The interpreter's last garbage collection would walk
    # everything still alive once more (~0.3 s of every run for nothing); frozen objects are left out.
    gc.freeze()
    sys.exit(code)


def _libraries_loaded() -> None:
    """The libraries a command imports (polars, pandas, pyarrow, pandera, frictionless: a few hundred
    thousand objects) live until the process ends; moved out of the collector's way, they are not
    walked by every full collection during the run (~0.1 s a build). Only in the program: a caller
    of `main` in a long-lived process keeps its collector as it was. Every command calls it."""
    if _PROGRAM:
        gc.freeze()
        gc.enable()


def _write_report(report, path: Path | None) -> bool:
    """Write the JSON report when asked for; False (and a line naming the file) when it cannot be."""
    from etl.report import text

    if path is not None:
        try:
            path.write_text(text.to_json(report), encoding="utf-8")
        except OSError as exc:
            print(f"etl: could not write the report to {path}: {exc.strerror}", file=sys.stderr)
            return False
    return True


def _outputs_missing(command: str, missing: list[str], code: int = EXIT_PUBLISH) -> int:
    """Exit 3: the data was valid (and, for a build, published), but an output a pipeline asked for is
    not there; it must not take the run for complete. (Invalid data keeps its exit 1.)"""
    print(f"etl {command}: {' and '.join(missing)} could not be written (see above); exiting with {code} so that "
          "a pipeline does not look for it.", file=sys.stderr)
    return code


def _remove_stale(*outputs: tuple[str, Path | None]) -> None:
    """A report left by an earlier run must never be taken for this one's: removed before any work."""
    from etl.errors import UsageError

    for option, path in outputs:
        if path is not None:
            try:
                path.unlink(missing_ok=True)
            except OSError as exc:
                raise UsageError(f"{option} {path}: cannot be replaced ({exc.strerror}).") from None


def _build(args: argparse.Namespace) -> int:
    from etl.shared import children
    from etl.source import pdf, registry

    _remove_stale(("--report", args.report), ("--html", args.html))
    raw = args.raw or registry.newest_document(Path("raw"))
    args.selected = None if args.raw else registry.selection_note(Path("raw"), raw)
    if args.selected:
        print(f"etl build: {args.selected}", file=sys.stderr)
    # The page's charts, frictionless' checks and a PDF's reader start in processes of their own now,
    # so that they load matplotlib and frictionless and read while this one loads the libraries
    # (about 1 s); the pipeline takes the PDF's lines only once the registry has verified the bytes.
    # Each child forked later holds a copy of the pipes of those forked before it (the reader of
    # both); the drawer and the helper therefore also watch whether their parent is there
    # (etl.shared.children.serve).
    try:
        if args.html:
            _start_drawing()
        _start_helping(raw)
        registry.start_reading(raw)
        return _build_from(raw, args)
    finally:
        pdf.stop_early()
        children.stop_helper()
        if args.html:
            _stop_drawing()


def _start_helping(raw: Path) -> None:
    """In the `etl` program, fork the helper that runs frictionless' checks (etl.shared.children) and
    have it check the document against its record at once: it loads frictionless on the other core
    while this process loads polars and pandera, and this process never loads frictionless. A
    caller of `main` in a long-lived process, with its libraries and threads running, runs them
    itself."""
    from etl.shared import children
    from etl.source import registry

    if _PROGRAM:
        children.start_helper()
        registry.start_checking(raw)


def _build_from(raw: Path, args: argparse.Namespace) -> int:
    from etl import pipeline
    from etl.report import text
    from etl.shared.results import Report
    from etl.validate.run import source_result

    _libraries_loaded()
    try:
        result = pipeline.build(raw, args.out, args.version, args.dry_run, on_read=_charts_for(args))
    except EtlError as exc:
        report, status = getattr(exc, "report", None), "not published"  # valid data that could not be published
        if report is None and exc.check:  # the input was refused before any table could be checked
            report, status = Report(list(getattr(exc, "passed", []))), "refused"
            report.add(source_result(exc.check, Path(raw), exc))
        if report is not None:
            report.outcome = {"status": status, "exit_code": exc.exit_code, "message": str(exc)}
            _finish(report, raw, args, getattr(exc, "dataset", None), f"etl build: {exc}")
        raise
    if result.outcome is None:
        result.report.outcome = {"status": "invalid", "exit_code": EXIT_INVALID}
    else:
        result.report.outcome = {"status": result.outcome.status, "exit_code": EXIT_OK,
                                 "release": str(result.outcome.release)}
    outcome = result.outcome
    if not result.report.valid:
        closing = f"etl build: {raw} is not valid; nothing was published."
    elif args.dry_run:
        would = ("is already published with identical content" if outcome.status == "unchanged"
                 else "would be published")
        closing = (f"dry run: {raw} is valid and its release verifies; {outcome.release} {would}. "
                   "Nothing was published.")
    elif outcome.status == "unchanged":
        closing = f"{outcome.release} is already published with identical content; nothing to do."
    else:
        closing = f"published {outcome.release}"
    rendered = text.render(result.report)
    missing = _finish(result.report, raw, args, result.dataset, f"{rendered}\n\n{closing}")
    print(rendered)
    if not result.report.valid:
        print(f"\n{closing}", file=sys.stderr)
        return EXIT_INVALID
    print(closing)
    return _outputs_missing("build", missing) if missing else EXIT_OK


def _start_drawing() -> None:
    """Fork the child that draws the page's charts (etl.report.drawer). In the `etl` program
    it loads matplotlib (0.6 s) while this process loads polars. A process that calls `main` again
    and again forks it only once matplotlib is loaded here: its first page is drawn here, importing
    matplotlib once, and no later build waits for a child to import it again."""
    from etl.report import charts, drawer

    if _PROGRAM or charts.loaded():
        drawer.start()


def _stop_drawing() -> None:
    from etl.report import drawer

    drawer.stop()


def _charts_for(args: argparse.Namespace):
    """With --html, the page's charts are asked for as soon as the tables are read: drawn while the
    build validates and publishes them (etl.report.drawer)."""
    if not args.html:
        return None
    from etl.report import html

    return lambda dataset: html.ask_charts(dataset.tables)


def _finish(report, raw: Path, args: argparse.Namespace, dataset=None, terminal: str = "") -> list[str]:
    """Every build report says whether the source matched its record, then is written (the page
    first, so that the JSON can say when the page is missing); the outputs that could not be."""
    from etl.source.registry import CHECK

    registered = any(r.check == CHECK and r.passed for r in report.results)
    report.outcome["source_registered"] = registered
    report.outcome["dry_run"] = args.dry_run
    if getattr(args, "selected", None):  # the default document was a PDF beside a text of its date
        report.outcome["source_selection"] = args.selected
    read = any(r.check == "source.readable" and r.passed for r in report.results)
    if read and not any(r.check == CHECK for r in report.results):  # a dry run of an unregistered file
        print(f"etl build: warning: {raw} is not registered, so its completeness was not checked "
              f"(etl register {raw}).", file=sys.stderr)
    missing = []
    if args.html is not None:
        from etl.report import html as html_report

        page = html_report.build_page(report, raw, dataset, args.version, terminal)
        if not _write_html(page, args.html):
            missing.append(f"--html {args.html}")
    if missing and report.outcome.get("exit_code") == EXIT_OK:
        report.outcome.update(exit_code=EXIT_PUBLISH, outputs_missing=missing)
    if not _write_report(report, args.report):
        missing.append(f"--report {args.report}")
    return missing


def _write_html(page, path: Path) -> bool:
    from etl.report import html as html_report

    try:
        html_report.write(page, path)
    except OSError as exc:
        print(f"etl: could not write the HTML report to {path}: {exc.strerror}", file=sys.stderr)
        return False
    return True


def _register(args: argparse.Namespace) -> int:
    from etl.source import registry

    _libraries_loaded()

    for done in registry.register(args.files, replace=args.replace):
        r = done.resource
        if not done.changed:
            print(f"{done.path}: already registered ({r['bytes']} bytes, {r['hash']}); nothing to do.")
        elif done.previous is None:
            kind = r.get("encoding") or r["format"].upper()  # a PDF has no text encoding
            print(f"{done.path}: registered ({r['bytes']} bytes, {kind}, {r['hash']}).")
        else:
            print(f"{done.path}: record replaced (was {done.previous.get('bytes')} bytes, "
                  f"{done.previous.get('hash')}; now {r['bytes']} bytes, {r['hash']}).")
    return EXIT_OK


def _validate(args: argparse.Namespace) -> int:
    from etl import pipeline
    from etl.report import text

    _libraries_loaded()

    report = pipeline.validate(args.path)
    written = _write_report(report, args.report)
    print(text.render(report))
    if not report.valid:
        return EXIT_INVALID
    return EXIT_OK if written else _outputs_missing("validate", [f"--report {args.report}"])


def _publish(args: argparse.Namespace) -> int:
    from etl.errors import UsageError
    from etl.portal.ckan import publish_release

    _libraries_loaded()

    token = os.environ.get("CKAN_API_TOKEN", "")
    if not token:
        raise UsageError("set the environment variable CKAN_API_TOKEN to the portal's API token "
                         "(it is never taken from the command line).")
    summary = publish_release(args.release, args.ckan, args.organization, token, insecure=args.insecure)
    print(summary.render(args.ckan.rstrip("/")))
    for warning in summary.warnings(args.ckan.rstrip("/")):
        print(f"etl publish: warning: {warning}", file=sys.stderr)
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    _start_drawing()
    try:
        return _report_page(args)
    finally:
        _stop_drawing()


def _report_page(args: argparse.Namespace) -> int:
    from etl.report import html as html_report

    _libraries_loaded()

    _remove_stale(("--html", args.html))
    page = html_report.release_page(args.release, args.against, document=args.source)
    written = _write_html(page, args.html)
    print(page.terminal)
    if not written:  # 3 is for valid data with an output missing; invalid data stays 1
        return _outputs_missing("report", [f"--html {args.html}"], EXIT_PUBLISH if page.report.valid else EXIT_INVALID)
    print(f"wrote {args.html}")
    return EXIT_OK if page.report.valid else EXIT_INVALID


def _diff(args: argparse.Namespace) -> int:
    from etl.release.diff import diff_releases, render

    _libraries_loaded()

    diffs = diff_releases(args.old, args.new)
    print(render(diffs))
    return EXIT_OK
