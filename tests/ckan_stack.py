"""A real CKAN 2.12 on loopback, started and stopped by the test suite itself.

`CkanStack` brings up, on 127.0.0.1 only:

* PostgreSQL (the Debian package's binaries, run as the ``postgres`` user on a private port, with its
  data and socket folders in a temporary folder; ``fsync=off``, trust authentication);
* the Solr stand-in of ``tests/solr_standin.py`` (test infrastructure, not a search engine);
* CKAN 2.12.0 from PyPI, in its own virtual environment ``<repo>/.venv-ckan`` (built once, reused while
  its stamp file says it is complete), served by ``ckan run`` on a free port, with the ``datastore``
  plugin (its own database ``datastore_default``, written by CKAN's user and read by a read-only role
  with the permissions ``ckan datastore set-permissions`` emits) and ``datatables_view`` for previews;

then creates a sysadmin, an API token and an organization. Everything it starts is stopped by PID in
`stop()`, and its temporary folder is removed.

    with CkanStack(organization="koriyama") as ckan:
        ckan.api("package_create", name="x", owner_org=ckan.organization)
        ckan.stop_server(); ...; ckan.start_server()    # the portal goes away and comes back

On a fresh machine `start()` installs what is missing (``apt-get install postgresql libpq-dev
libmagic1`` when root; the CKAN virtualenv from PyPI). It talks to nothing but 127.0.0.1, apart from
the package registries while installing. The API token is never printed or logged.
"""

from __future__ import annotations

import atexit
import ctypes.util
import fcntl
import glob
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit

import requests

REPO = Path(__file__).resolve().parent.parent
VENV = REPO / ".venv-ckan"
STAMP_NAME = ".ckan-stack-complete"
STATE_NAME = "stack.json"  # in the stack's temporary folder: owner PID and the PIDs it started
CKAN_VERSION = "2.12.0"
SOLR_STANDIN = Path(__file__).resolve().parent / "solr_standin.py"
APT_PACKAGES = ("postgresql", "libpq-dev", "libmagic1")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost"}
DB_NAME = DB_USER = "ckan_default"
DB_PASSWORD = "pass"  # trust authentication on loopback: the password is not checked
# The DataStore: its own database, written by CKAN's user and read through a read-only role (what
# `ckan datastore set-permissions` grants), as CKAN's documentation sets it up.
DATASTORE_DB = DATASTORE_READER = "datastore_default"


class CkanStackError(RuntimeError):
    """The stack could not be set up, started or reached as expected."""


class CkanApiError(RuntimeError):
    """CKAN answered an Action API call with success=false (or not with JSON)."""

    def __init__(self, action: str, status: int, error: Any):
        self.action, self.status, self.error = action, status, error
        error_type = error.get("__type") if isinstance(error, dict) else None
        self.type = error_type
        super().__init__(f"CKAN {action} failed (HTTP {status}): {json.dumps(error, ensure_ascii=False)[:2000]}")


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _is_root() -> bool:
    return os.geteuid() == 0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still "exists" for kill(); reap it if it is ours, and count it as gone either way.
    try:
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def _postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(re.search(r"/postgresql/(\d+)", p).group(1)))  # type: ignore[union-attr]
    return Path(found[-1]).parent if found else None


def _deb_installed(package: str) -> bool | None:
    """True/False from dpkg, or None where there is no dpkg."""
    if not shutil.which("dpkg-query"):
        return None
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
    return r.returncode == 0 and "install ok installed" in r.stdout


def missing_system_packages(need_build_tools: bool = True) -> list[str]:
    """Debian packages the stack needs that are not installed (checked by files, dpkg as a fallback)."""
    missing = []
    if _postgres_bindir() is None:
        missing.append("postgresql")
    if not (Path("/usr/include/postgresql/libpq-fe.h").exists() or _deb_installed("libpq-dev")):
        missing.append("libpq-dev")
    if not (ctypes.util.find_library("magic") or _deb_installed("libmagic1")):
        missing.append("libmagic1")
    if need_build_tools and not (shutil.which("gcc") or shutil.which("cc")):
        missing += ["gcc", "libc6-dev"]  # psycopg2 is built from source against libpq-dev
    return missing


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def reap_stale_stacks() -> list[str]:
    """Stop what earlier stacks left behind when their test process died without stopping them.

    Only folders ``<tmp>/ckan-stack-*`` with a ``stack.json`` whose owner process is gone are
    touched; a recorded PID is signalled only while its command line still names that folder.
    Folders kept on purpose (``keep_temp``) are left. Returns the folders removed.
    """
    removed = []
    for folder in Path(tempfile.gettempdir()).glob("ckan-stack-*"):
        try:
            info = json.loads((folder / STATE_NAME).read_text())
            owner = int(info["owner"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if info.get("kept") or owner == os.getpid() or _pid_alive(owner):
            continue
        for name, pid in (info.get("pids") or {}).items():
            if _pid_alive(pid) and str(folder) in _cmdline(pid):
                # SIGQUIT is PostgreSQL's immediate shutdown (what pg_ctl stop -m immediate sends).
                os.kill(pid, signal.SIGQUIT if name == "postgres" else signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(str(folder))
    return removed


# --------------------------------------------------------------------------------------------------
# The stack
# --------------------------------------------------------------------------------------------------


class CkanStack:
    """PostgreSQL + Solr stand-in + CKAN 2.12 on loopback, for tests. See the module docstring."""

    def __init__(self, organization: str = "koriyama", *, venv: Path | str | None = None,
                 server_timeout: float = 90.0, keep_temp: bool = False, version: str = CKAN_VERSION) -> None:
        self.organization = organization
        self.organization_id: str | None = None
        self.version = version  # another CKAN release (tools/ckan_versions.py) gets a virtualenv of its own
        self.venv = Path(venv) if venv else VENV if version == CKAN_VERSION else REPO / f".venv-ckan-{version}"
        self.server_timeout = server_timeout
        self.keep_temp = keep_temp or os.environ.get("CKAN_STACK_KEEP_TEMP") == "1"
        self.sysadmin = "ci-admin"
        self.url: str | None = None
        self.token: str | None = None
        self.timings: dict[str, float] = {}
        self.tmp: Path | None = None
        self.log_path: Path | None = None
        self.server_log: Path | None = None
        self.ini: Path | None = None
        self.port: int | None = None
        self.solr_url: str | None = None
        self._pg: dict[str, Any] = {}
        self._solr: subprocess.Popen[bytes] | None = None
        self._server: subprocess.Popen[bytes] | None = None
        # A session that never goes through a proxy (everything is on 127.0.0.1); no auth header set.
        self.http = requests.Session()
        self.http.trust_env = False
        self._atexit_registered = False

    # ---------------------------------------------------------------- context manager
    def __enter__(self) -> "CkanStack":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:  # never shows the token
        return f"CkanStack(url={self.url!r}, organization={self.organization!r})"

    # ---------------------------------------------------------------- logging
    def _log(self, msg: str) -> None:
        if self.token:
            msg = msg.replace(self.token, "<token>")
        if self.log_path is None:
            return
        with open(self.log_path, "a", encoding="utf-8") as f:
            f.write(time.strftime("%H:%M:%S ") + msg.rstrip() + "\n")

    def _record(self, *, kept: bool = False) -> None:
        """Write the PIDs this stack runs to its folder, for `reap_stale_stacks` after a crash."""
        if self.tmp is None:
            return
        pids = {"postgres": self._pg.get("pid"),
                "solr": self._solr.pid if self._solr else None,
                "ckan": self._server.pid if self._server else None}
        state = {"owner": os.getpid(), "kept": kept, "pids": {k: v for k, v in pids.items() if v}}
        tmp = self.tmp / (STATE_NAME + ".tmp")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.tmp / STATE_NAME)

    def _timed(self, name: str, started: float) -> None:
        self.timings[name] = round(time.monotonic() - started, 2)
        self._log(f"[timing] {name}: {self.timings[name]:.2f}s")

    def log_tail(self, path: Path | None = None, lines: int = 60) -> str:
        """The last lines of the stack log (or of another log file of the stack)."""
        path = path or self.log_path
        if not path or not path.exists():
            return "(no log)"
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
        out = "\n".join(text)
        return out.replace(self.token, "<token>") if self.token else out

    # ---------------------------------------------------------------- running commands
    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CKAN_") and k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV",
                                                          "PYTHONSTARTUP", "PYTHONSAFEPATH")}
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}"
        env["PYTHONUNBUFFERED"] = "1"
        env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        if self.ini:
            env["CKAN_INI"] = str(self.ini)
        return env

    def _run(self, cmd: Sequence[str | Path], *, timeout: float = 600, capture: bool = False,
             env: dict[str, str] | None = None, what: str | None = None,
             secret_args: Sequence[str] = ()) -> str:
        """Run a command to completion; its output goes to the stack log (or is returned if capture)."""
        cmd = [str(c) for c in cmd]
        shown = " ".join("***" if c in secret_args else c for c in cmd)
        self._log(f"$ {shown}")
        cwd = str(self.tmp) if self.tmp else None
        started = time.monotonic()
        log = open(self.log_path, "a", encoding="utf-8") if self.log_path else subprocess.DEVNULL
        try:
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, timeout=timeout, cwd=cwd,
                               env=env if env is not None else self._env(),
                               stdout=subprocess.PIPE if capture else log,
                               stderr=log if capture else subprocess.STDOUT)
        except subprocess.TimeoutExpired as e:
            raise CkanStackError(f"{what or shown} timed out after {timeout}s\n--- log ---\n{self.log_tail()}") from e
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        self._log(f"  -> exit {r.returncode} in {time.monotonic() - started:.1f}s")
        if r.returncode != 0:
            raise CkanStackError(f"{what or shown} failed with exit code {r.returncode}\n"
                                 f"--- log ({self.log_path}) ---\n{self.log_tail()}")
        return r.stdout.decode("utf-8", "replace") if capture else ""

    def _ckan(self, *args: str | Path, capture: bool = False, what: str | None = None,
              secret_args: Sequence[str] = ()) -> str:
        assert self.ini is not None
        return self._run([self.venv / "bin" / "ckan", "-c", self.ini, *args], capture=capture,
                         timeout=300, what=what or f"ckan {args[0]}", secret_args=secret_args)

    # ---------------------------------------------------------------- start
    def start(self) -> "CkanStack":
        if self.tmp is not None:
            raise CkanStackError("this CkanStack is already started")
        t0 = time.monotonic()
        stale = reap_stale_stacks()
        self.tmp = Path(tempfile.mkdtemp(prefix="ckan-stack-"))
        self.tmp.chmod(0o755)  # the postgres user must be able to reach its folder inside
        self.log_path = self.tmp / "stack.log"
        self._record()
        if stale:
            self._log("removed what crashed earlier stacks left: " + ", ".join(stale))
        self.server_log = self.tmp / "ckan-server.log"
        if not self._atexit_registered:
            atexit.register(self.stop)
            self._atexit_registered = True
        try:
            phases = [
                ("system packages", self.ensure_system_packages),
                ("ckan virtualenv", self.ensure_venv),
                ("postgres", self._start_postgres),
                ("solr stand-in", self._start_solr),
                ("ckan config", self._configure),
                ("ckan db init + sysadmin + token", self._bootstrap),
                ("ckan server ready", self.start_server),
            ]
            for name, phase in phases:
                t = time.monotonic()
                phase()
                self._timed(name, t)
            t = time.monotonic()
            org = self.api("organization_create", name=self.organization, title=self.organization)
            self.organization_id = org["id"]
            self._timed("organization", t)
        except BaseException:
            self.stop()
            raise
        self._timed("total start", t0)
        return self

    # (a) system packages
    def ensure_system_packages(self) -> None:
        need_build = not self._venv_complete()
        missing = missing_system_packages(need_build_tools=need_build)
        if not missing:
            self._log("system packages: all present")
            return
        if not _is_root() or not shutil.which("apt-get"):
            raise CkanStackError(
                "CkanStack needs these system packages, which are missing: " + " ".join(missing)
                + "\nInstall them as root, e.g.: apt-get update && apt-get install -y " + " ".join(missing)
                + "\n(this process is not root or has no apt-get, so it cannot install them itself)")
        packages = list(APT_PACKAGES) + [m for m in missing if m not in APT_PACKAGES]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        self._run(["apt-get", "update"], env=env, timeout=900, what="apt-get update")
        self._run(["apt-get", "install", "-y", "-o", "Dpkg::Options::=--force-confdef",
                   "-o", "Dpkg::Options::=--force-confold", *packages],
                  env=env, timeout=1800, what="apt-get install " + " ".join(packages))
        still = missing_system_packages(need_build_tools=need_build)
        if still:
            raise CkanStackError("still missing after apt-get install: " + " ".join(still))

    # (b) the CKAN virtualenv
    @property
    def _stamp(self) -> Path:
        return self.venv / STAMP_NAME

    def _venv_complete(self) -> bool:
        try:
            stamp = json.loads(self._stamp.read_text())
        except (OSError, ValueError):
            return False
        return (stamp.get("ckan") == self.version and (self.venv / "bin" / "ckan").exists()
                and stamp.get("python") == "%d.%d" % sys.version_info[:2])

    def ensure_venv(self) -> None:
        """Build <repo>/.venv-ckan unless its stamp says it is complete (serialised across processes)."""
        self.venv.parent.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(self.venv.parent, os.O_RDONLY)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)  # another test process may be building it right now
            if self._venv_complete():
                try:
                    self._run([self.venv / "bin" / "python", "-c", "import ckan, psycopg2, magic, pysolr"],
                              timeout=60, what="checking the CKAN virtualenv")
                    self._log(f"reusing {self.venv}")
                    return
                except CkanStackError:
                    self._log(f"{self.venv} is stamped complete but broken; rebuilding it")
            self._build_venv()
        finally:
            fcntl.flock(lock_fd, fcntl.LOCK_UN)
            os.close(lock_fd)

    def _build_venv(self) -> None:
        assert self.tmp is not None
        if self.venv.exists():
            shutil.rmtree(self.venv)
        base = getattr(sys, "_base_executable", None) or sys.executable
        self._run([base, "-m", "venv", self.venv], timeout=300, what="python -m venv")
        py = self.venv / "bin" / "python"
        sdist_dir = self.tmp / "sdist"
        sdist_dir.mkdir()
        # The wheel declares no dependencies; the pinned ones are in the source distribution.
        self._run([py, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                   f"ckan=={self.version}", "-d", sdist_dir], timeout=900, what="pip download ckan sdist")
        tarballs = list(sdist_dir.glob("ckan-*.tar.gz"))
        if not tarballs:
            raise CkanStackError(f"pip download left no ckan sdist in {sdist_dir}")
        member = f"ckan-{self.version}/requirements.txt"
        with tarfile.open(tarballs[0]) as tar:
            f = tar.extractfile(member)
            if f is None:
                raise CkanStackError(f"{member} not found in {tarballs[0].name}")
            requirements = f.read()
        req_path = self.tmp / "ckan-requirements.txt"
        req_path.write_bytes(requirements)
        self._run([py, "-m", "pip", "install", f"ckan=={self.version}", "-r", req_path],
                  timeout=1800, what="pip install ckan and its requirements")
        self._run([py, "-c", "import ckan, psycopg2, magic, pysolr"], timeout=60,
                  what="checking the new CKAN virtualenv")
        self._stamp.write_text(json.dumps({
            "ckan": self.version,
            "python": "%d.%d" % sys.version_info[:2],
            "requirements_sha256": hashlib.sha256(requirements).hexdigest(),
            "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }, indent=2) + "\n")
        self._log(f"built {self.venv}")

    # (c) PostgreSQL
    def _as_postgres(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if _is_root() else []

    def _start_postgres(self) -> None:
        assert self.tmp is not None
        bindir = _postgres_bindir()
        if bindir is None:
            raise CkanStackError("no /usr/lib/postgresql/*/bin/initdb")
        pgdir = self.tmp / "pg"
        data, sock = pgdir / "data", pgdir / "sock"
        pgdir.mkdir(mode=0o700)
        sock.mkdir(mode=0o700)
        if _is_root():
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError as e:
                raise CkanStackError("there is no 'postgres' user to run PostgreSQL as") from e
            for p in (pgdir, sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
        self._pg = {"bindir": bindir, "data": data, "sock": sock, "log": pgdir / "postgres.log"}
        self._run([*self._as_postgres(), bindir / "initdb", "-D", data, "-U", "postgres", "-A", "trust",
                   "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"],
                  timeout=120, what="initdb")
        for attempt in range(3):
            port = free_port()
            opts = (f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off "
                    f"-c synchronous_commit=off -c full_page_writes=off")
            try:
                self._run([*self._as_postgres(), bindir / "pg_ctl", "-D", data, "-l", self._pg["log"],
                           "-o", opts, "-w", "-t", "60", "start"], timeout=90, what="pg_ctl start")
            except CkanStackError:
                if attempt == 2:
                    raise CkanStackError("PostgreSQL did not start\n--- postgres log ---\n"
                                         + self.log_tail(self._pg["log"]))
                continue
            break
        self._pg["port"] = port
        self._pg["pid"] = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
        self._record()
        self._log(f"postgres pid {self._pg['pid']} on 127.0.0.1:{port}")
        psql = [bindir / "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(port),
                "-U", "postgres", "-d", "postgres"]
        self._run([*psql, "-c", f"CREATE ROLE {DB_USER} LOGIN PASSWORD '{DB_PASSWORD}'",
                   "-c", f"CREATE DATABASE {DB_NAME} OWNER {DB_USER} ENCODING 'UTF8' TEMPLATE template0",
                   "-c", f"CREATE ROLE {DATASTORE_READER} NOSUPERUSER NOCREATEDB NOCREATEROLE LOGIN "
                         f"PASSWORD '{DB_PASSWORD}'",
                   "-c", f"CREATE DATABASE {DATASTORE_DB} OWNER {DB_USER} ENCODING 'UTF8' TEMPLATE template0"],
                  timeout=60, what="creating the ckan_default and datastore roles and databases")
        self._pg["psql"] = psql

    @property
    def sqlalchemy_url(self) -> str:
        return f"postgresql://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{self._pg['port']}/{DB_NAME}"

    def _datastore_url(self, user: str) -> str:
        return f"postgresql://{user}:{DB_PASSWORD}@127.0.0.1:{self._pg['port']}/{DATASTORE_DB}"

    # (d) the Solr stand-in
    def _start_solr(self) -> None:
        assert self.tmp is not None and self.log_path is not None
        port_file = self.tmp / "solr.port"
        log = open(self.tmp / "solr-standin.log", "ab")
        try:
            self._solr = subprocess.Popen(
                [sys.executable, SOLR_STANDIN, "--host", "127.0.0.1", "--port", "0",
                 "--port-file", port_file, "--parent-pid", str(os.getpid()), "--quiet",
                 "--schema-name", "ckan-" + ".".join(self.version.split(".")[:2])],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp,
                env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSTARTUP")},
                start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + 20
        while not port_file.exists():
            if self._solr.poll() is not None or time.monotonic() > deadline:
                raise CkanStackError("the Solr stand-in did not start\n"
                                     + self.log_tail(self.tmp / "solr-standin.log"))
            time.sleep(0.05)
        self._record()
        port = int(port_file.read_text())
        self.solr_url = f"http://127.0.0.1:{port}/solr/ckan"
        r = self.http.get(f"{self.solr_url}/schema", params={"wt": "schema.xml"}, timeout=5)
        r.raise_for_status()
        self._log(f"solr stand-in pid {self._solr.pid} at {self.solr_url}")

    # (e) configuration and bootstrap
    def _configure(self) -> None:
        assert self.tmp is not None
        self.ini = self.tmp / "ckan.ini"
        storage = self.tmp / "storage"
        storage.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        unused = free_port()  # nothing listens here: Redis is only needed for background jobs
        overrides = self.tmp / "overrides.ini"
        app = {
            "sqlalchemy.url": self.sqlalchemy_url,
            "ckan.site_url": self.url,
            "ckan.site_id": "default",
            "solr_url": self.solr_url,
            "ckan.storage_path": str(storage),
            "ckan.redis.url": f"redis://127.0.0.1:{unused}/0",
            "ckan.max_resource_size": "100",  # MB; uploads of a few MB must pass
            # The DataStore (tables pushed through the Action API, nothing fetched, no workers) and its
            # table preview; no plugin that fetches anything or needs workers.
            "ckan.plugins": "datastore datatables_view",
            "ckan.datastore.write_url": self._datastore_url(DB_USER),
            "ckan.datastore.read_url": self._datastore_url(DATASTORE_READER),
            "ckan.views.default_views": "datatables_view",
            "smtp.server": f"127.0.0.1:{unused}",
            "ckan.requests.timeout": "5",
            "ckan.site_title": "CKAN test stack",
        }
        lines = ["[app:main]", *(f"{k} = {v}" for k, v in app.items()),
                 "", "[logger_ckan]", "level = INFO", "", "[logger_ckanext]", "level = INFO", ""]
        overrides.write_text("\n".join(lines), encoding="utf-8")
        # Without -c: with -c, config-tool loads the app against the default database first.
        self._run([self.venv / "bin" / "ckan", "generate", "config", self.ini], timeout=120,
                  what="ckan generate config")
        self._run([self.venv / "bin" / "ckan", "config-tool", self.ini, "-f", overrides], timeout=120,
                  what="ckan config-tool")

    def _bootstrap(self) -> None:
        self._ckan("db", "init", what="ckan db init")
        sql = self._ckan("datastore", "set-permissions", capture=True, what="ckan datastore set-permissions")
        assert self.tmp is not None
        script = self.tmp / "datastore-permissions.sql"  # a file: the SQL has a \connect meta-command
        script.write_text(sql, encoding="utf-8")
        self._run([*self._pg["psql"], "-f", script], timeout=60, what="psql: the DataStore's permissions")
        password = secrets.token_urlsafe(18)
        # `user add` then `sysadmin add`: the same two commands in CKAN 2.10, 2.11 and 2.12 (2.12's
        # `sysadmin add --create` does both, but older releases have no --create).
        self._ckan("user", "add", self.sysadmin, f"email={self.sysadmin}@example.invalid",
                   f"password={password}", what="ckan user add", secret_args=(f"password={password}",))
        self._ckan("sysadmin", "add", self.sysadmin, what="ckan sysadmin add")
        out = self._ckan("user", "token", "add", self.sysadmin, "ci", capture=True, what="ckan user token add")
        candidates = [ln.strip() for ln in out.splitlines() if ln.strip()]
        token = candidates[-1] if candidates else ""
        if not re.fullmatch(r"[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+", token):
            raise CkanStackError("could not find an API token in the output of `ckan user token add`")
        self.token = token
        self._log("API token created (not logged)")

    # (f) the web process
    def start_server(self) -> None:
        """Start (or restart) the CKAN web process and wait until status_show answers 200."""
        assert self.ini is not None and self.server_log is not None and self.port is not None
        if self._server is not None and self._server.poll() is None:
            raise CkanStackError("the CKAN server is already running")
        deadline = time.monotonic() + 15
        while not _port_is_free(self.port):
            if time.monotonic() > deadline:
                raise CkanStackError(f"port {self.port} on 127.0.0.1 is taken by another process")
            time.sleep(0.1)
        log = open(self.server_log, "ab")
        try:
            self._server = subprocess.Popen(
                [str(self.venv / "bin" / "ckan"), "-c", str(self.ini), "run", "-H", "127.0.0.1",
                 "-p", str(self.port), "--disable-reloader"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp,
                env=self._env(), start_new_session=True)
        finally:
            log.close()
        self._record()
        self._log(f"ckan server pid {self._server.pid} on {self.url}")
        deadline = time.monotonic() + self.server_timeout
        last = "no answer yet"
        while True:
            if self._server.poll() is not None:
                raise CkanStackError(f"the CKAN server exited with code {self._server.returncode}\n"
                                     f"--- server log ---\n{self.log_tail(self.server_log)}")
            try:
                r = self.http.get(f"{self.url}/api/3/action/status_show", timeout=5)
                if r.status_code == 200:
                    return
                last = f"HTTP {r.status_code}"
            except requests.RequestException as e:
                last = type(e).__name__
            if time.monotonic() > deadline:
                self.stop_server()
                raise CkanStackError(f"CKAN did not answer status_show with 200 within "
                                     f"{self.server_timeout:.0f}s (last: {last})\n"
                                     f"--- server log ---\n{self.log_tail(self.server_log)}")
            time.sleep(0.2)

    def set_config(self, settings: dict[str, str]) -> dict[str, str]:
        """Restart the web process with these ckan.ini settings; the settings they replaced.

        E.g. {"ckan.plugins": "activity"}: CKAN 2.12 as `ckan generate config` makes it, without the
        DataStore. The database and the DataStore's data are kept."""
        assert self.ini is not None and self.tmp is not None
        import configparser

        current = configparser.RawConfigParser(strict=False)
        current.read(self.ini, encoding="utf-8")
        previous = {k: current.get("app:main", k, fallback="") for k in settings}
        overrides = self.tmp / "set-config.ini"
        overrides.write_text("[app:main]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()), encoding="utf-8")
        self.stop_server()
        self._run([self.venv / "bin" / "ckan", "config-tool", self.ini, "-f", overrides], timeout=120,
                  what="ckan config-tool")
        # A plugin with tables of its own (activity) gets them as `ckan db init` would have made them.
        self._ckan("db", "pending-migrations", "--apply", what="ckan db pending-migrations --apply")
        self.start_server()
        return previous

    def stop_server(self, timeout: float = 10.0) -> None:
        """Stop only the CKAN web process (SIGTERM, then SIGKILL), as if the portal went away."""
        proc, self._server = self._server, None
        if proc is not None:
            self._terminate(proc, "ckan server", timeout)
            self._record()

    def _terminate(self, proc: subprocess.Popen[bytes], name: str, timeout: float) -> None:
        if proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._log(f"{name} pid {proc.pid} ignored SIGTERM; sending SIGKILL")
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=timeout)
            except ProcessLookupError:
                pass
        self._log(f"{name} pid {proc.pid} stopped (exit {proc.returncode})")

    # ---------------------------------------------------------------- use
    def _headers(self) -> dict[str, str]:
        return {"Authorization": self.token} if self.token else {}

    def api(self, action: str, **data: Any) -> Any:
        """POST JSON to /api/3/action/<action> as the sysadmin; the result, or CkanApiError.

        A CKAN that is not running raises requests.ConnectionError, untouched.
        """
        if self.url is None:
            raise CkanStackError("the stack is not started")
        r = self.http.post(f"{self.url}/api/3/action/{action}", json=data, headers=self._headers(),
                            timeout=60)
        try:
            body = r.json()
        except ValueError:
            raise CkanApiError(action, r.status_code, {"message": r.text[:1000]}) from None
        if not isinstance(body, dict) or not body.get("success"):
            raise CkanApiError(action, r.status_code, body.get("error") if isinstance(body, dict) else body)
        return body["result"]

    def download(self, url: str) -> bytes:
        """The bytes at a URL of this CKAN (a resource's url), fetched with the sysadmin's token."""
        host = urlsplit(url).hostname
        if host not in LOOPBACK_HOSTS:
            raise CkanStackError(f"refusing to download from {host!r}: only 127.0.0.1/localhost")
        r = self.http.get(url, headers=self._headers(), timeout=60)
        r.raise_for_status()
        return r.content

    # ---------------------------------------------------------------- stop
    def stop(self) -> None:
        """Stop every process this stack started, by PID, and remove its temporary folder."""
        errors: list[str] = []
        try:
            self.stop_server()
        except Exception as e:  # noqa: BLE001 - go on stopping the rest
            errors.append(f"ckan server: {e!r}")
        if self._solr is not None:
            proc, self._solr = self._solr, None
            try:
                self._terminate(proc, "solr stand-in", 5)
            except Exception as e:  # noqa: BLE001
                errors.append(f"solr stand-in: {e!r}")
        if self._pg.get("pid"):
            try:
                self._stop_postgres()
            except Exception as e:  # noqa: BLE001
                errors.append(f"postgres: {e!r}")
        self.http.close()
        if self._atexit_registered:
            atexit.unregister(self.stop)
            self._atexit_registered = False
        if self.keep_temp:
            self._record(kept=True)
        tmp, self.tmp = self.tmp, None
        if tmp is not None and not self.keep_temp:
            shutil.rmtree(tmp, ignore_errors=True)
        self.log_path = None
        self.url = self.token = None
        if errors:
            raise CkanStackError("could not stop everything: " + "; ".join(errors))

    def _stop_postgres(self) -> None:
        pid = self._pg.pop("pid")
        try:
            self._run([*self._as_postgres(), self._pg["bindir"] / "pg_ctl", "-D", self._pg["data"],
                       "stop", "-m", "immediate", "-w", "-t", "30"], timeout=60, what="pg_ctl stop")
        except CkanStackError:
            pass
        deadline = time.monotonic() + 10
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            self._log(f"postgres pid {pid} still alive after pg_ctl stop; sending SIGKILL")
            os.kill(pid, signal.SIGKILL)
        self._log(f"postgres pid {pid} stopped")
