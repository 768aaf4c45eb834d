"""The ledger on both backends: a SQLite file (default) and a throwaway PostgreSQL cluster.

PostgreSQL comes from Debian's package (scripts/bootstrap.sh installs it); the fixture
runs initdb into a temporary folder as the ``postgres`` user and serves it on 127.0.0.1.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from hub.ledger import Ledger
from hub.procs import free_port, wait_tcp

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(*cmd: str) -> None:
    done = subprocess.run(["runuser", "-u", "postgres", "--", *cmd], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr or done.stdout}")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is missing; scripts/bootstrap.sh installs it (apt-get install postgresql)")
    # pytest's temporary folders are private to root; the postgres user needs its own.
    data = Path(tempfile.mkdtemp(prefix="hub-ledger-pg-")) / "data"
    shutil.chown(data.parent, "postgres")
    port = free_port()
    _as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(data.parent / "pg.log"), "-w", "-o",
                 f"-c listen_addresses=127.0.0.1 -p {port} -k {data.parent}", "start")
    try:
        wait_tcp(port, 30)
        _as_postgres(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "ledger")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/ledger"
    finally:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(data.parent, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ledger.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    ledger = Ledger(url)
    yield ledger
    if request.param == "postgresql":  # one database for the session: empty it between tests
        from hub.ledger.models import Base

        with ledger.engine.begin() as conn:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())
    ledger.dispose()

