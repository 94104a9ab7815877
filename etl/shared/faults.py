"""Fault-injection points for the crash and outage tests; inert unless their variables are set.

ETL_FAULT_PAUSE=<point> stops the process at that point and prints "etl: paused at <point>" on
stderr, so a test can SIGKILL it there or pull a server away; with ETL_FAULT_RESUME=<file> it
carries on once that file exists. ETL_FAULT_FAIL=<point> raises the OSError a full disk would
(ETL_FAULT_ERRNO=EACCES etc. for another error). ETL_FAULT_CORRUPT=<file name> flips the last byte
of that staged file after it was written, as a faulty disk or writer would, so that a test can
prove the staged release is verified before it is published.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path


def fault_point(name: str) -> None:
    if os.environ.get("ETL_FAULT_PAUSE") == name:
        print(f"etl: paused at {name}", file=sys.stderr, flush=True)
        resume = os.environ.get("ETL_FAULT_RESUME")
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline and not (resume and Path(resume).exists()):
            time.sleep(0.05)
    if os.environ.get("ETL_FAULT_FAIL") == name:
        code = getattr(errno, os.environ.get("ETL_FAULT_ERRNO", "ENOSPC"), errno.ENOSPC)
        raise OSError(code, os.strerror(code), name)


def corrupt_point(folder: Path) -> None:
    name = os.environ.get("ETL_FAULT_CORRUPT")
    if name and (folder / name).is_file():
        data = bytearray((folder / name).read_bytes())
        data[-1] ^= 0x01
        (folder / name).write_bytes(bytes(data))
