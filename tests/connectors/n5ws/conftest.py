"""Fixtures: one real Noark 5 sandbox subprocess; N5wsArchive instances built against it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest

from connectors.n5ws import N5wsArchive, N5wsConfig
from sandbox.common import control_headers
from sandbox.noark5.process import start_noark5_sandbox
from sandbox.procs import Proc

PAGE_SIZE = 3  # small, so the connector's paging is exercised


@pytest.fixture(scope="session")
def n5ws_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_noark5_sandbox(tmp_path_factory.mktemp("n5ws-data"), tmp_path_factory.mktemp("logs"),
                                page_size=PAGE_SIZE)
    yield proc
    proc.stop()


@pytest.fixture
def make_archive(n5ws_sandbox: Proc) -> Callable[..., N5wsArchive]:
    """``make_archive(**overrides)`` → an N5wsArchive on the sandbox (the test closes it)."""

    def make(transport: httpx.AsyncBaseTransport | None = None, **overrides: Any) -> N5wsArchive:
        settings: dict[str, Any] = {
            "base_url": n5ws_sandbox.extra["base_url"], "username": n5ws_sandbox.extra["username"],
            "password": n5ws_sandbox.extra["password"], "max_attempts": 3, "max_retry_seconds": 5.0,
            "timeout": 5.0}
        settings.update(overrides)
        return N5wsArchive(N5wsConfig(**settings), transport=transport)

    return make


@pytest.fixture
async def archive(make_archive: Callable[..., N5wsArchive]) -> AsyncIterator[N5wsArchive]:
    archive = make_archive()
    yield archive
    await archive.aclose()


@pytest.fixture
async def raw_http(n5ws_sandbox: Proc) -> AsyncIterator[httpx.AsyncClient]:
    """Plain HTTP to the sandbox (authenticated), for setting up and checking the target."""
    auth = (n5ws_sandbox.extra["username"], n5ws_sandbox.extra["password"])
    async with httpx.AsyncClient(auth=auth, timeout=10.0) as client:
        yield client


@pytest.fixture
def stored(n5ws_sandbox: Proc) -> Callable[[str], list[dict[str, Any]]]:
    """``stored(kind)`` → what the sandbox really holds, to assert outcomes in the target."""

    def objects(kind: str) -> list[dict[str, Any]]:
        response = httpx.get(f"{n5ws_sandbox.url}/_sandbox/objects", headers=control_headers(),
                             params={"kind": kind})
        response.raise_for_status()
        return list(response.json()["results"])

    return objects
