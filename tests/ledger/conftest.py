"""The ledger on both backends: a SQLite file (default) and a throwaway PostgreSQL cluster.

PostgreSQL comes from Debian's package (scripts/bootstrap.sh installs it); the fixture
runs initdb into a temporary folder as the ``postgres`` user and serves it on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devtools.pgcluster import PG_BIN, throwaway_cluster
from hub.ledger import Ledger


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    if not (PG_BIN / "initdb").exists():
        pytest.fail("PostgreSQL 15 is missing; scripts/bootstrap.sh installs it (apt-get install postgresql)")
    with throwaway_cluster("ledger") as server:
        yield f"postgresql+psycopg://{server}/ledger"


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

