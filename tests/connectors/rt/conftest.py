"""Fixtures: one real Request Tracker 5, started once per test session in a tmp dir.

The instance comes from ``sandbox.rt.running`` (the cached template is copied, then
``rt-server`` is started on a free 127.0.0.1 port). ``rt_direct`` talks to RT's REST2
with plain httpx, independently of the connector, so tests check outcomes in RT itself.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from connectors.rt import RtConfig, RtTicketing
from sandbox.rt import RtInstance, running
from tests.connectors.rt.helpers import TIMINGS, RtDirect


@pytest.fixture(scope="session")
def rt_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RtInstance]:
    with running(tmp_path_factory.mktemp("rt") / "instance") as instance:
        TIMINGS.update(instance.timings)
        yield instance


@pytest.fixture(scope="session")
def rt_config(rt_instance: RtInstance) -> RtConfig:
    return RtConfig(base_url=rt_instance.base_url, token=rt_instance.token, timeout=20.0,
                    max_attempts=3, max_retry_seconds=10.0)


@pytest.fixture
async def rt(rt_config: RtConfig) -> AsyncIterator[RtTicketing]:
    async with RtTicketing(rt_config) as client:
        yield client


@pytest.fixture(scope="session")
def rt_direct(rt_instance: RtInstance) -> Iterator[RtDirect]:
    direct = RtDirect(rt_instance)
    yield direct
    direct.client.close()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if TIMINGS:
        shown = ", ".join(f"{k}={v}" for k, v in sorted(TIMINGS.items()))
        terminalreporter.write_line(f"Request Tracker timings: {shown}")
