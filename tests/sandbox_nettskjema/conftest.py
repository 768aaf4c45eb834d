"""Fixtures and small HTTP helpers: a real Nettskjema sandbox subprocess per test module."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.common import control_headers
from sandbox.nettskjema.process import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, start_nettskjema_sandbox
from sandbox.procs import Proc

CLIENT = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)


@pytest.fixture(scope="module")
def nettskjema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_nettskjema_sandbox(tmp_path_factory.mktemp("nettskjema-data"), tmp_path_factory.mktemp("logs"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def token(nettskjema: Proc) -> str:
    return fetch_token(nettskjema)


def fetch_token(proc: Proc, client: tuple[str, str] = CLIENT) -> str:
    response = httpx.post(proc.extra["token_url"], auth=client, data={"grant_type": "client_credentials"},
                          timeout=5)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def api(proc: Proc, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(f"{proc.extra['base_url']}/{path}", headers=headers, timeout=10)


def ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert response.text.endswith("\n")
    return [json.loads(line) for line in response.text.splitlines()]


def submit(proc: Proc, form: int | str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{proc.url}/_sandbox/forms/{form}/submissions", headers=control_headers(),
                      json=body, timeout=10)


def stats(proc: Proc) -> dict[str, int]:
    return dict(httpx.get(f"{proc.url}/_sandbox/stats", headers=control_headers(), timeout=5).json())


def row_names(proc: Proc, token: str, form_id: int) -> dict[int, str]:
    """Matrix ``subElementId`` → the row's external id, from ``elements`` (answers carry only the number)."""
    elements = api(proc, f"form/{form_id}/elements", token).json()
    return {row["subElementId"]: row["externalElementId"] for e in elements for row in e["subElements"]}
