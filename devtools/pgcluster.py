"""A throwaway PostgreSQL cluster on 127.0.0.1, for tests and benchmarks.

PostgreSQL comes from Debian's package (``scripts/bootstrap.sh`` installs it for the tests).
``initdb`` runs as the ``postgres`` user into a temporary folder; the cluster trusts local
connections, listens on a free port on 127.0.0.1 only, and is removed when the context ends.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from sandbox.procs import free_port, wait_tcp

__all__ = ["PG_BIN", "throwaway_cluster", "init_cluster", "postgres_command", "create_databases"]

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(*cmd: str) -> None:
    done = subprocess.run(["runuser", "-u", "postgres", "--", *cmd], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr or done.stdout}")


def init_cluster(data: Path) -> bool:
    """A cluster in ``data`` (owned by the postgres user), unless one is there; True if made now."""
    if (data / "PG_VERSION").exists():
        return False
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError("PostgreSQL 15 is missing: apt-get install postgresql "
                           "(scripts/bootstrap.sh does it with HUB_FOR_TESTS=1 or HUB_SCALED=1)")
    data.mkdir(parents=True, exist_ok=True)
    for folder in data.parents:  # the postgres user must reach its folder
        if not folder.stat().st_mode & 0o001:
            folder.chmod(folder.stat().st_mode | 0o001)
    shutil.chown(data, "postgres")
    data.chmod(0o700)
    _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    return True


def postgres_command(data: Path, port: int) -> list[str]:
    """The cluster's server in the foreground, as the postgres user, on 127.0.0.1:``port`` only."""
    return ["runuser", "-u", "postgres", "--", str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port),
            "-c", "listen_addresses=127.0.0.1", "-k", str(data), "-c", "max_connections=200"]


def create_databases(port: int, *names: str) -> None:
    """Create each of ``names`` that does not exist yet."""
    done = subprocess.run([str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                           "-Atc", "select datname from pg_database"], capture_output=True, text=True, check=True)
    have = set(done.stdout.split())
    for name in names:
        if name not in have:
            _as_postgres(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", name)


@contextlib.contextmanager
def throwaway_cluster(*databases: str) -> Iterator[str]:
    """Start a cluster, create ``databases``; yield ``postgres@127.0.0.1:PORT`` (add a driver
    and a database name to make a URL). Stopped and deleted afterwards."""
    if not (PG_BIN / "initdb").exists():
        raise RuntimeError("PostgreSQL 15 is missing: apt-get install postgresql "
                           "(scripts/bootstrap.sh does it with HUB_FOR_TESTS=1)")
    # A root-private temporary folder would not do: the postgres user needs its own.
    data = Path(tempfile.mkdtemp(prefix="hub-pg-")) / "data"
    shutil.chown(data.parent, "postgres")
    port = free_port()
    try:
        _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(data.parent / "pg.log"), "-w", "-o",
                     f"-c listen_addresses=127.0.0.1 -p {port} -k {data.parent}", "start")
        try:
            wait_tcp(port, 30)
            for name in databases:
                _as_postgres(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", name)
            yield f"postgres@127.0.0.1:{port}"
        finally:
            _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
    finally:
        shutil.rmtree(data.parent, ignore_errors=True)
