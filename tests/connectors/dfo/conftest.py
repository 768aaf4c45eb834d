"""Fixtures: one real DFØ sandbox subprocess per module; connectors built against it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from connectors.dfo import DfoConfig, DfoHr
from sandbox.dfo.process import start_dfo_sandbox
from sandbox.procs import Proc

API_KEY = "connector-test-key"


@pytest.fixture(scope="module")
def dfo_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_dfo_sandbox(tmp_path_factory.mktemp("dfo-data"), tmp_path_factory.mktemp("logs"),
                             API_KEY)
    yield proc
    proc.stop()


@pytest.fixture
def make_hr(dfo_sandbox: Proc) -> Callable[..., DfoHr]:
    """``make_hr(**overrides)`` → a DfoHr on the sandbox (closed by the test's ``async with``)."""

    def make(**overrides: Any) -> DfoHr:
        settings: dict[str, Any] = {"base_url": dfo_sandbox.extra["base_url"], "api_key": API_KEY,
                                    "max_attempts": 3, "max_retry_seconds": 5.0, "timeout": 5.0}
        settings.update(overrides)
        return DfoHr(DfoConfig(**settings))

    return make
