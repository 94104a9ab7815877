"""frictionless' objections to a release's datapackage.json.

Light on purpose, neither polars nor pandera: a build's helper process (etl.shared.children.beside)
runs `frictionless_metadata` without loading them, and the build itself never loads frictionless.
"""

from __future__ import annotations

from pathlib import Path

from etl.shared.safety import release_descriptor


def frictionless_metadata(folder: Path) -> list[str]:
    """frictionless' objections to datapackage.json itself (profile, resources, field types, keys)."""
    from frictionless import FrictionlessException, Package  # here: a build has it loaded by its helper only

    root, descriptor = release_descriptor(folder)  # read inside the folder (etl.shared.safety), parsed afresh
    try:
        # Given the descriptor, not its path: the same validation and import, without frictionless
        # opening the file again and exporting it back (a third of its time). Not trusted: frictionless
        # refuses absolute and '..' paths itself too, on top of etl.shared.safety.
        Package.from_descriptor(descriptor, basepath=str(root))  # validates the descriptor as it reads it
    except FrictionlessException as exc:
        return [f"frictionless: {exc.error.message}"] + [f"frictionless: {e.message}" for e in exc.reasons]
    return []
