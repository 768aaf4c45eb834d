"""Fixtures: one TOPdesk sandbox subprocess per test session, in a tmp dir.

``topdesk_direct`` talks to the sandbox with plain httpx, independently of the connector,
so tests check outcomes in TOPdesk itself.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from connectors.topdesk import TopdeskConfig, TopdeskTicketing
from sandbox.procs import Proc
from sandbox.topdesk import start_topdesk_sandbox
from tests.connectors.topdesk.helpers import TIMINGS, TopdeskDirect


@pytest.fixture(scope="session")
def topdesk_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    started = time.perf_counter()
    proc = start_topdesk_sandbox(tmp_path_factory.mktemp("topdesk-data"), tmp_path_factory.mktemp("topdesk-logs"))
    TIMINGS["sandbox_start_s"] = round(time.perf_counter() - started, 3)
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def topdesk_config(topdesk_sandbox: Proc) -> TopdeskConfig:
    return TopdeskConfig(base_url=topdesk_sandbox.extra["base_url"], username=topdesk_sandbox.extra["username"],
                         app_password=SecretStr(topdesk_sandbox.extra["app_password"]), timeout=10.0,
                         max_attempts=3, max_retry_seconds=10.0)


@pytest.fixture
async def topdesk(topdesk_config: TopdeskConfig) -> AsyncIterator[TopdeskTicketing]:
    async with TopdeskTicketing(topdesk_config) as client:
        yield client


@pytest.fixture(scope="session")
def topdesk_direct(topdesk_sandbox: Proc) -> Iterator[TopdeskDirect]:
    direct = TopdeskDirect(topdesk_sandbox)
    yield direct
    direct.client.close()


@pytest.fixture(autouse=True)
def _no_faults_left(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "topdesk_direct" in request.fixturenames:  # unit tests need no sandbox
        request.getfixturevalue("topdesk_direct").clear_faults()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(TIMINGS.items()))
        terminalreporter.write_line(f"TOPdesk timings: {shown}")
