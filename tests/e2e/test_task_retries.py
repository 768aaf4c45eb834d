"""Task retries decided by the error type, proven with an injected fault over HTTP.

A peer answers 503 to its first requests. The connector's own retries are set to one
attempt, so the :class:`~hub.errors.TransientError` leaves the call and reaches Prefect's
task engine, which must retry the task (``retry_condition_fn=transient_only``). A
permanent error (404) must not be retried. Both an async task (where ``state.result()``
inside the engine returns a coroutine and the old check silently said "no retry") and a
sync task are run on the real Prefect server of the stack.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from prefect import flow, task
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from devtools.stack import Stack
from hub.errors import NotFound, TransientError
from hub.flowkit import global_slots, transient_only
from hub.http import ApiClient, RetryPolicy
from sandbox.procs import free_port, wait_tcp

pytestmark = pytest.mark.e2e


@dataclass
class FlakyPeer:
    """A peer that fails its next ``fail_next`` requests with 503, and counts requests."""

    url: str
    fail_next: int = 0
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def peer() -> Iterator[FlakyPeer]:
    port = free_port()
    state = FlakyPeer(url=f"http://127.0.0.1:{port}")

    async def thing(request: Request) -> JSONResponse:
        state.requests.append(request.path_params["name"])
        if request.path_params["name"] == "missing":
            return JSONResponse({"error": "no such thing"}, status_code=404)
        if state.fail_next > 0:
            state.fail_next -= 1
            return JSONResponse({"error": "busy"}, status_code=503)
        return JSONResponse({"name": request.path_params["name"]})

    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/things/{name}", thing)]),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_tcp(port, 10)
    yield state
    server.should_exit = True
    thread.join(10)


ONE_ATTEMPT = RetryPolicy(max_attempts=1)


async def _get(base_url: str, name: str) -> dict[str, Any]:
    async with ApiClient("peer", base_url, policy=ONE_ATTEMPT) as client:
        body: dict[str, Any] = await client.json("GET", f"/things/{name}")
        return body


@task(retries=3, retry_delay_seconds=0, retry_condition_fn=transient_only)
async def fetch_async(base_url: str, name: str) -> dict[str, Any]:
    return await _get(base_url, name)


@task(retries=3, retry_delay_seconds=0, retry_condition_fn=transient_only)
def fetch_sync(base_url: str, name: str) -> dict[str, Any]:
    return asyncio.run(_get(base_url, name))


@flow
async def fetch_with_async_task(base_url: str, name: str) -> dict[str, Any]:
    return await fetch_async(base_url, name)


@flow
def fetch_with_sync_task(base_url: str, name: str) -> dict[str, Any]:
    return fetch_sync(base_url, name)


def _run(kind: str, peer: FlakyPeer, name: str) -> dict[str, Any]:
    if kind == "async":
        return asyncio.run(fetch_with_async_task(peer.url, name))
    return fetch_with_sync_task(peer.url, name)


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_transient_error_is_retried_until_it_succeeds(stack: Stack, peer: FlakyPeer, kind: str) -> None:
    peer.requests.clear()
    peer.fail_next = 2

    result = _run(kind, peer, f"laptop-{kind}")

    assert result == {"name": f"laptop-{kind}"}
    assert peer.requests == [f"laptop-{kind}"] * 3, "two 503s, then the retry that succeeded"


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_transient_error_past_the_retries_fails_the_task(stack: Stack, peer: FlakyPeer, kind: str) -> None:
    peer.requests.clear()
    peer.fail_next = 10

    with pytest.raises(TransientError):
        _run(kind, peer, "always-busy")

    assert len(peer.requests) == 4, "the first try and three retries"
    peer.fail_next = 0


@pytest.mark.parametrize("kind", ["async", "sync"])
def test_a_permanent_error_is_not_retried(stack: Stack, peer: FlakyPeer, kind: str) -> None:
    peer.requests.clear()

    with pytest.raises(NotFound):
        _run(kind, peer, "missing")

    assert peer.requests == ["missing"]


SLOT = "hub-test-slot"


@task(retries=2, retry_delay_seconds=0, retry_condition_fn=transient_only)
async def hold_a_slot() -> str:
    async with global_slots(SLOT):
        return "held"


@flow
async def flow_holding_a_slot() -> str:
    return await hold_a_slot()


def test_prefect_failing_to_hand_out_a_global_slot_is_transient_and_retried(stack: Stack, tmp_path: Path) -> None:
    """The Prefect API answering 500 to a slot request once (seen under chaos: its SQLite
    database locked) used to crash the step and dead-letter the item; now the step is
    retried and takes the slot."""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from sandbox.common import control_headers
    from sandbox.faultproxy import start_fault_proxy

    async def make_limit() -> None:
        async with get_client() as client:
            await client.upsert_global_concurrency_limit_by_name(SLOT, 1)

    asyncio.run(make_limit())
    proxy: Any = start_fault_proxy(stack.prefect_ui, tmp_path)
    try:
        armed = httpx.post(f"{proxy.url}/_sandbox/faults", headers=control_headers(proxy.extra.get("control_token")),
                           json={"path": "/api/v2/concurrency_limits/increment-with-lease", "status": 500,
                                 "count": 1}, timeout=5)
        assert armed.status_code == 201, armed.text
        with temporary_settings(updates={PREFECT_API_URL: f"{proxy.url}/api"}):
            assert asyncio.run(flow_holding_a_slot()) == "held"
        stats = httpx.get(f"{proxy.url}/_sandbox/faults/stats",
                          headers=control_headers(proxy.extra.get("control_token")), timeout=5).json()
        assert stats["statuses"] == {"500": 1}, "the fault was served, and the retry went through"
    finally:
        proxy.stop()


def test_a_slot_request_prefect_never_answers_gives_up_as_transient(stack: Stack, tmp_path: Path) -> None:
    """Seen under chaos: a run whose slot request was never answered sat silent for 20
    minutes, holding its deployment's only concurrency slot and every item behind it. The
    wait is bounded now: the step gets a transient error (it is retried; nothing is lost)."""
    import time

    import httpx
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from hub.flowkit import SlotsUnavailable
    from sandbox.common import control_headers
    from sandbox.faultproxy import start_fault_proxy

    async def make_limit() -> None:
        async with get_client() as client:
            await client.upsert_global_concurrency_limit_by_name(SLOT, 1)

    async def take_slot() -> None:
        async with global_slots(SLOT, wait=2):
            raise AssertionError("the slot was handed out although Prefect never answered")

    asyncio.run(make_limit())
    proxy: Any = start_fault_proxy(stack.prefect_ui, tmp_path)
    try:
        armed = httpx.post(f"{proxy.url}/_sandbox/faults", headers=control_headers(proxy.extra.get("control_token")),
                           json={"path": "/api/v2/concurrency_limits/increment-with-lease", "kind": "timeout",
                                 "hold": 60, "count": 100}, timeout=5)
        assert armed.status_code == 201, armed.text
        started = time.monotonic()
        with temporary_settings(updates={PREFECT_API_URL: f"{proxy.url}/api"}):
            with pytest.raises(SlotsUnavailable, match="waited 2 s") as raised:
                asyncio.run(take_slot())
        assert time.monotonic() - started < 15, "the wait is bounded by its own deadline, not Prefect's timeouts"
        assert raised.value.kind == "transient"
    finally:
        proxy.stop()
