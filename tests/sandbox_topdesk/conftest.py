"""Fixtures: a real TOPdesk sandbox subprocess per test module, and plain HTTP helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.procs import Proc
from sandbox.topdesk import start_topdesk_sandbox


@pytest.fixture(scope="module")
def topdesk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_topdesk_sandbox(tmp_path_factory.mktemp("topdesk-data"), tmp_path_factory.mktemp("logs"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def api(topdesk: Proc) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=topdesk.extra["base_url"] + "/", timeout=10,
                      auth=(topdesk.extra["username"], topdesk.extra["app_password"])) as client:
        yield client


def incident_body(**fields: Any) -> dict[str, Any]:
    return {"caller": {"dynamicName": "Test caller"}, "briefDescription": "Test", "request": "Hei",
            "operatorGroup": {"name": "Equipment"}, **fields}


def results(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code in (200, 204, 206), response.text
    return [] if response.status_code == 204 else list(response.json())
