"""Fixtures: one Public 360 sandbox subprocess per test session, in a tmp dir.

``p360_direct`` talks SIF to the sandbox with plain httpx, independently of the connector,
so tests check outcomes in 360 itself.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.p360 import P360Archive, P360Config
from hub.ports.archive import Correspondent, Document, NewCaseFile, NewJournalEntry
from sandbox.p360 import start_p360_sandbox
from sandbox.procs import Proc
from tests.connectors.p360.helpers import P360Direct


@pytest.fixture(scope="session")
def p360_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_p360_sandbox(tmp_path_factory.mktemp("p360-data"), tmp_path_factory.mktemp("p360-logs"))
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def p360_config(p360_sandbox: Proc) -> P360Config:
    return P360Config(base_url=p360_sandbox.extra["base_url"], auth_key=SecretStr(p360_sandbox.extra["auth_key"]),
                      client_id=p360_sandbox.extra["client_id"], timeout=5.0, max_attempts=3,
                      max_retry_seconds=10.0)


@pytest.fixture
async def p360(p360_config: P360Config) -> AsyncIterator[P360Archive]:
    client = P360Archive(p360_config)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def p360_direct(p360_sandbox: Proc) -> Iterator[P360Direct]:
    direct = P360Direct(p360_sandbox)
    yield direct
    direct.client.close()


@pytest.fixture(autouse=True)
def _no_faults_left(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "p360_direct" in request.fixturenames:
        request.getfixturevalue("p360_direct").clear_faults()


def new_key(what: str = "test") -> str:
    return f"{what}:{uuid.uuid4().hex[:10]}"


def case_file(key: str | None = None, *, name: str = "Kari Nordmann", series: str = "Personalarkiv") -> NewCaseFile:
    return NewCaseFile(external_id=key or new_key("case"), title=f"Personalmappe – {name}",
                       public_title="Personalmappe – *****", series=series)


def journal_entry(key: str | None = None, *, kind: Any = "U", name: str = "Kari Nordmann",
                  email: str | None = "kari.nordmann@example.org", attachments: int = 0) -> NewJournalEntry:
    role = {"I": "EA", "U": "EM", "N": "EK"}.get(kind, "EM")
    documents = [Document(title="Velkomstbrev", filename="brev.pdf", content=b"%PDF-1.4 brev " + uuid.uuid4().bytes)]
    documents += [Document(title=f"Vedlegg {i}", filename=f"vedlegg-{i}.pdf", role="V",
                           content=f"%PDF-1.4 vedlegg {i}".encode() + uuid.uuid4().bytes)
                  for i in range(1, attachments + 1)]
    return NewJournalEntry(external_id=key or new_key("entry"), title=f"Velkomstbrev – {name}",
                           public_title="Velkomstbrev – *****", journal_type=kind,
                           document_date=datetime(2026, 11, 30, 9, 0), sent_date=datetime(2026, 11, 30, 9, 0)
                           if kind == "U" else None, received_date=datetime(2026, 11, 30, 9, 0) if kind == "I" else None,
                           correspondents=(Correspondent(kind=role, name=name, email=email),),
                           documents=tuple(documents))
