"""Fixtures: one real Noark 5 sandbox subprocess for the sandbox tests, and a relation client."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sandbox.noark5.process import start_noark5_sandbox
from sandbox.procs import Proc
from tests.sandbox_noark5.generic_client import RelationClient

MAX_UPLOAD = 1_000_000
PAGE_SIZE = 5


@pytest.fixture(scope="session")
def noark5(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_noark5_sandbox(tmp_path_factory.mktemp("noark5-data"), tmp_path_factory.mktemp("logs"),
                                max_upload_bytes=MAX_UPLOAD, page_size=PAGE_SIZE)
    yield proc
    proc.stop()


@pytest.fixture
def auth(noark5: Proc) -> tuple[str, str]:
    return noark5.extra["username"], noark5.extra["password"]


@pytest.fixture
def client(noark5: Proc, auth: tuple[str, str]) -> Iterator[RelationClient]:
    with RelationClient(noark5.extra["api_url"], auth) as rc:
        yield rc


@pytest.fixture
def arkivdel(client: RelationClient) -> dict[str, Any]:
    """A fresh arkivdel of the seeded arkiv, so each test's lists hold only its own objects."""
    struktur = client.follow(client.root(), "arkivstruktur/")
    arkiv = client.list(struktur, "arkivstruktur/arkiv/", filter="tittel eq 'OsloMet arkiv'")[0]
    response = client.create(arkiv, "arkivstruktur/ny-arkivdel/", {"tittel": f"Test {uuid.uuid4()}"})
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
def make_saksmappe(client: RelationClient, arkivdel: dict[str, Any]) -> Callable[..., dict[str, Any]]:
    """``make_saksmappe(title, **fields)`` → a saksmappe created in the test's own arkivdel."""

    def make(title: str, **fields: Any) -> dict[str, Any]:
        response = client.create(arkivdel, "sakarkiv/ny-saksmappe/", {"tittel": title, **fields})
        assert response.status_code == 201, response.text
        return dict(response.json())

    return make
