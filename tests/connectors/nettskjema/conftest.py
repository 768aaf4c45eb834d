"""Fixtures: a real Nettskjema sandbox subprocess per test module; connectors built against it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.nettskjema import NettskjemaConfig, NettskjemaForms
from sandbox.common import control_headers
from sandbox.nettskjema.process import start_nettskjema_sandbox
from sandbox.procs import Proc

MakeForms = Callable[..., NettskjemaForms]


@pytest.fixture(scope="module")
def nettskjema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_nettskjema_sandbox(tmp_path_factory.mktemp("nettskjema-data"), tmp_path_factory.mktemp("logs"))
    yield proc
    proc.stop()


def config_for(proc: Proc, **overrides: Any) -> NettskjemaConfig:
    settings: dict[str, Any] = {
        "base_url": proc.extra["base_url"], "token_url": proc.extra["token_url"],
        "client_id": proc.extra["client_id"], "client_secret": SecretStr(proc.extra["client_secret"]),
        "max_attempts": 3, "max_retry_seconds": 8.0, "timeout": 5.0}
    settings.update(overrides)
    return NettskjemaConfig(**settings)


@pytest.fixture
def make_forms(nettskjema: Proc) -> MakeForms:
    """``make_forms(**overrides)`` → a NettskjemaForms on the sandbox (closed by ``async with``)."""
    return lambda **overrides: NettskjemaForms(config_for(nettskjema, **overrides))


def stats(proc: Proc) -> dict[str, int]:
    return dict(httpx.get(f"{proc.url}/_sandbox/stats", headers=control_headers(), timeout=5).json())


def arm_fault(proc: Proc, **fault: object) -> None:
    assert httpx.post(f"{proc.url}/_sandbox/faults", headers=control_headers(),
                      json=fault, timeout=5).status_code == 201


def armed_faults(proc: Proc) -> list[dict[str, object]]:
    return list(httpx.get(f"{proc.url}/_sandbox/faults", headers=control_headers(), timeout=5).json())


def submit(proc: Proc, form: int | str, body: dict[str, Any]) -> int:
    response = httpx.post(f"{proc.url}/_sandbox/forms/{form}/submissions", headers=control_headers(),
                          json=body, timeout=10)
    assert response.status_code == 201, response.text
    return int(response.json()["submissionId"])
