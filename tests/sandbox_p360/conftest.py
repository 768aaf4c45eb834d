"""Fixtures: a real Public 360 sandbox subprocess per test module, and a plain SIF caller."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sandbox.p360 import start_p360_sandbox
from sandbox.procs import Proc


@pytest.fixture(scope="module")
def p360(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_p360_sandbox(tmp_path_factory.mktemp("p360-data"), tmp_path_factory.mktemp("logs"))
    yield proc
    proc.stop()


class Sif:
    """``sif("CaseService", "GetCases", CaseNumber=...)`` → the decoded result (any Successful)."""

    def __init__(self, proc: Proc) -> None:
        self.client = httpx.Client(base_url=proc.extra["base_url"] + "/", timeout=10,
                                   params={"authkey": proc.extra["auth_key"]})

    def __call__(self, service: str, method: str, **parameter: Any) -> dict[str, Any]:
        response = self.client.post(f"{service}/{method}", json={"parameter": parameter})
        assert response.status_code == 200, response.text
        return dict(response.json())

    def ok(self, service: str, method: str, **parameter: Any) -> dict[str, Any]:
        result = self(service, method, **parameter)
        assert result["Successful"] is True, result["ErrorMessage"]
        return result


@pytest.fixture(scope="module")
def sif(p360: Proc) -> Iterator[Sif]:
    caller = Sif(p360)
    yield caller
    caller.client.close()


def pdf(text: str = "hei") -> dict[str, Any]:
    return {"Title": "Brev", "Format": "pdf", "Base64Data": base64.b64encode(f"%PDF {text}".encode()).decode()}
