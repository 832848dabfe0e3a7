"""Shared plumbing for the benchmarks: a throw-away database, gunicorn as the Procfile runs it, cleanup.

Everything here binds to 127.0.0.1 only and cleans up after itself (servers stopped, schema dropped,
temporary folder removed), also on Ctrl-C and SIGTERM.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import requests
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PROCFILE = ROOT / "Procfile"
VENV_BIN = Path(sys.executable).parent

POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
SHOP = "bench-boutique.myshopify.com"
SHOPIFY_SECRET = "bench-shopify-secret-0123456789abcdef"
# 32 fixed bytes, base64, as TRACKING_BACKEND_SECRET expects
BACKEND_SECRET = "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="


def exit_cleanly_on_sigterm() -> None:
    """SIGTERM runs the same `finally:` cleanup as Ctrl-C."""
    def _raise(_signum, _frame):
        raise SystemExit(143)

    signal.signal(signal.SIGTERM, _raise)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of unsorted values; nan when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the database ---------------------------------------------------------------------------------


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def bench_database(kind: str, name: str, folder: Path) -> Iterator[str]:
    """A migrated, empty database for one run; yields its URL and drops it afterwards.

    PostgreSQL: a schema `bench_<name>_<pid>` in the test database (reached through search_path).
    SQLite: a file in `folder`.
    """
    from connector.migrate import upgrade

    if kind == "sqlite":
        url = f"sqlite:///{folder / 'bench.db'}"
        upgrade(url)
        yield url
        return
    if kind != "postgresql":
        raise SystemExit(f"unknown database {kind!r}: use postgresql or sqlite")
    schema = f"bench_{name}_{os.getpid()}"
    admin = create_engine(POSTGRES_ADMIN_URL)
    try:
        with admin.begin() as connection:
            # Schemas left by a run that was killed outright (its pid is gone).
            for (stale,) in connection.execute(
                text("SELECT nspname FROM pg_namespace WHERE nspname LIKE :prefix"), {"prefix": f"bench_{name}_%"}
            ):
                match = re.fullmatch(rf"bench_{name}_(\d+)", stale)
                if match and not _pid_alive(int(match.group(1))):
                    connection.execute(text(f'DROP SCHEMA IF EXISTS "{stale}" CASCADE'))
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in POSTGRES_ADMIN_URL else "?"
        url = f"{POSTGRES_ADMIN_URL}{separator}options=-csearch_path%3D{schema}"
        upgrade(url)
        yield url
    finally:
        try:
            with admin.begin() as connection:
                connection.execute(text("SET lock_timeout = '10s'"))
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        finally:
            admin.dispose()


def add_store(url: str, *, influencers: bool = True) -> int:
    """The one Shopify store of a run (and alice with code ALICE15); returns its id."""
    from connector.campaigns import directory
    from connector.db import make_engine, make_sessionmaker, transaction
    from connector.settings import DEV_SECRET_KEY

    engine = make_engine(url)
    try:
        with transaction(make_sessionmaker(engine)) as session:
            store = directory.add_store(session, DEV_SECRET_KEY, "shopify", SHOP, access_token="shpat_bench")
            if influencers:
                directory.add_influencer(session, store, "alice", code="ALICE15", campaign_id="spring-26",
                                         email="alice@creators.example")
                directory.add_influencer(session, store, "bob", campaign_id="spring-26")
            return store.id
    finally:
        engine.dispose()


def connector_env(database_url: str, **extra: str) -> dict[str, str]:
    """The environment the connector's processes get: DATABASE_URL, SHOPIFY_API_SECRET, CONNECTOR_ENV=development."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CONNECTOR_", "TRACKING_BACKEND_", "SHOPIFY_")) and k != "DATABASE_URL"}
    env.update(DATABASE_URL=database_url, SHOPIFY_API_SECRET=SHOPIFY_SECRET, PYTHONUNBUFFERED="1",
               CONNECTOR_ENV="development", **extra)
    return env


# -- gunicorn as the Procfile runs it -------------------------------------------------------------


def _expand(value: str, env: dict[str, str]) -> str:
    """${VAR:-default} and $VAR, as the shell that runs a Procfile line would."""
    value = re.sub(r"\$\{(\w+):-([^}]*)\}", lambda m: env.get(m.group(1)) or m.group(2), value)
    return re.sub(r"\$(\w+)", lambda m: env.get(m.group(1), ""), value)


def procfile_web_argv(app_spec: str, port: int, env: dict[str, str] | None = None) -> list[str]:
    """The Procfile's web command with only the app and the bind address replaced."""
    env = dict(os.environ if env is None else env)
    for line in PROCFILE.read_text().splitlines():
        if line.startswith("web:"):
            argv = shlex.split(_expand(line[len("web:"):].strip(), env))
            break
    else:
        raise SystemExit(f"no web: line in {PROCFILE}")
    if argv[0] != "gunicorn":
        raise SystemExit(f"the Procfile web process is not gunicorn: {argv[0]}")
    argv = [str(VENV_BIN / "gunicorn"), *argv[1:]]
    argv[1] = app_spec
    for i, arg in enumerate(argv):
        if arg in ("--bind", "-b"):
            argv[i + 1] = f"127.0.0.1:{port}"
        elif arg.startswith("--bind="):
            argv[i] = f"--bind=127.0.0.1:{port}"
    return argv


def procfile_option(argv: Sequence[str], *names: str, default: str | None = None) -> str | None:
    for i, arg in enumerate(argv):
        if arg in names and i + 1 < len(argv):
            return argv[i + 1]
        for name in names:
            if name.startswith("--") and arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return default


class Gunicorn:
    """A gunicorn master in its own process group; stopped with SIGTERM, then SIGKILL if it lingers."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, log: Path, port: int,
                 access_log: Path | None = None):
        self.argv, self.env, self.cwd, self.log, self.port = argv, env, cwd, log, port
        self.access_log = access_log
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> "Gunicorn":
        with open(self.log, "ab") as err, open(self.access_log or os.devnull, "ab") as out:
            # The access log (--access-logfile -) goes to stdout: written, as in production, then kept in
            # `access_log` or discarded.
            self.process = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=out,
                                            stderr=err, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.process.returncode}:\n{tail(self.log)}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not answer /healthz within {timeout:.0f} s:\n{tail(self.log)}")

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen | None, timeout: float = 20.0) -> None:
    """SIGTERM to the process we started, then SIGKILL to its own process group if it does not exit."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)  # the group we created with start_new_session
        except ProcessLookupError:
            pass
        process.wait(timeout=5)


def tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextmanager
def temporary_folder(prefix: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def start_standin_backend():
    """standins.backend.StandinBackend, started (it sets TCP_NODELAY on its own connections)."""
    from standins.backend import StandinBackend

    return StandinBackend(BACKEND_SECRET).start()


def cpu_by_kind() -> dict[str, float]:
    """CPU seconds used so far by this machine's gunicorn, PostgreSQL and load-generator processes (Linux /proc)."""
    totals = {"app": 0.0, "postgres": 0.0, "load": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                cmdline = handle.read()
        except OSError:
            continue
        used = (int(fields[11]) + int(fields[12])) / tick
        if b"gunicorn" in cmdline:
            totals["app"] += used
        elif cmdline.startswith(b"postgres"):
            totals["postgres"] += used
        elif cmdline.startswith(b"wrk") or b"_loadgen.py" in cmdline:
            totals["load"] += used
    return totals
