"""Task retries decided by the error type, proven with an injected fault over HTTP.

A peer answers 503 to its first requests. The connector's own retries are set to one
attempt, so the :class:`~hub.errors.TransientError` leaves the call and reaches Prefect's
task engine, which must retry the task (``retry_condition_fn=transient_only``). A
permanent error (404) must not be retried. Both an async task (where ``state.result()``
inside the engine returns a coroutine and the old check silently said "no retry") and a
sync task are run on the real Prefect server of the stack.

Global slots are asked of the same real server through a fault proxy: a 5xx is asked again
within the wait, a 4xx is not, and a wait that ends is a transient error.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
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

from bench.slot_trace import occupancy, read
from devtools.stack import Stack
from hub.errors import NotFound, TransientError
from hub.flowkit import global_slots, transient_only
from hub.http import ApiClient, RetryPolicy
from hub.slots import SLOT_TRACE
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


@contextlib.contextmanager
def prefect_behind_a_fault_proxy(stack: Stack, tmp_path: Path, slot: str, fault: dict[str, Any] | None
                                 ) -> Iterator[Callable[[], Any]]:
    """The global limit ``slot`` (one slot) exists; this block talks to Prefect through a fault
    proxy armed with ``fault`` on slot requests. Yields a function that reads the proxy's
    fault statistics.

    One limit name per test: Prefect keeps one acquisition service per set of names in a
    process, with the API URL it first saw — a later test's requests for the same name would
    go to an earlier test's proxy, long stopped."""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from sandbox.common import control_headers
    from sandbox.faultproxy import start_fault_proxy

    async def make_limit() -> None:
        async with get_client() as client:
            await client.upsert_global_concurrency_limit_by_name(slot, 1)

    asyncio.run(make_limit())
    proxy: Any = start_fault_proxy(stack.prefect_ui, tmp_path)
    headers = control_headers(proxy.extra.get("control_token"))
    try:
        if fault is not None:
            armed = httpx.post(f"{proxy.url}/_sandbox/faults", headers=headers,
                               json={"path": "/api/v2/concurrency_limits/increment-with-lease", **fault}, timeout=5)
            assert armed.status_code == 201, armed.text
        with temporary_settings(updates={PREFECT_API_URL: f"{proxy.url}/api"}):
            yield lambda: httpx.get(f"{proxy.url}/_sandbox/faults/stats", headers=headers, timeout=5).json()
    finally:
        proxy.stop()


async def hold_the_slot(slot: str, wait: float) -> str:
    async with global_slots(slot, wait=wait):
        return "held"


@pytest.mark.parametrize("status", [500, 503])
def test_prefect_failing_to_hand_out_a_global_slot_is_asked_again_at_once(stack: Stack, tmp_path: Path,
                                                                          status: int) -> None:
    """The Prefect API answering 5xx to slot requests (seen under chaos and in the backlog
    bench) used to fail the step at once, and a batch item became a dead letter retried
    minutes later. Now the slots are asked for again until they are handed out, within the
    wait, and soon: a SQLite Prefect server answers 503 at once when another write committed
    while the request's transaction read (SQLITE_BUSY_SNAPSHOT), and under a burst of
    onboardings most first requests got one. Prefect's client waits 2, 4, 8, 16 and 32 s
    between its tries, and RT's two write slots stood idle ~85 % of the time while steps
    slept. The hub asks again 50 ms later, growing to a second."""
    slot = f"{SLOT}-{status}"
    with prefect_behind_a_fault_proxy(stack, tmp_path, slot, {"status": status, "count": 3}) as stats:
        started = time.monotonic()
        assert asyncio.run(hold_the_slot(slot, wait=60)) == "held"
        took = time.monotonic() - started
        assert stats()["statuses"] == {str(status): 3}, "every fault was served, and the fourth request got the slot"
    assert took < 2.5, f"three {status}s cost ~0.35 s of pauses, not Prefect's 2 + 4 + 8 s: {took:.1f} s"


def test_a_slot_prefect_keeps_failing_to_hand_out_is_transient_at_the_deadline(stack: Stack, tmp_path: Path) -> None:
    """Prefect failing every slot request: the step gives up when its wait ends, with a
    transient error that says what Prefect last answered (the item is retried; nothing is lost)."""
    from hub.flowkit import SlotsUnavailable

    with prefect_behind_a_fault_proxy(stack, tmp_path, SLOT + "-deadline", {"status": 500, "count": 1000}) as stats:
        started = time.monotonic()
        with pytest.raises(SlotsUnavailable, match=r"waited 4 s .* without getting them .*500") as raised:
            asyncio.run(hold_the_slot(SLOT + "-deadline", wait=4))
        took = time.monotonic() - started
        assert int(stats()["statuses"]["500"]) >= 3, "it asked again while it waited"
    assert raised.value.kind == "transient"
    assert took < 15, f"bounded by the wait, not by Prefect's retries: {took:.1f} s"


def test_a_refused_slot_request_is_not_asked_again(stack: Stack, tmp_path: Path) -> None:
    """A 4xx answer is about the request, not a busy Prefect: asking again changes nothing."""
    from hub.flowkit import SlotsUnavailable

    with prefect_behind_a_fault_proxy(stack, tmp_path, SLOT + "-refused", {"status": 422, "count": 1000}) as stats:
        with pytest.raises(SlotsUnavailable, match="could not take"):
            asyncio.run(hold_the_slot(SLOT + "-refused", wait=30))
        assert stats()["statuses"] == {"422": 1}


def test_a_slot_request_prefect_never_answers_gives_up_as_transient(stack: Stack, tmp_path: Path) -> None:
    """Seen under chaos: a run whose slot request was never answered sat silent for 20
    minutes, holding its deployment's only concurrency slot and every item behind it. The
    wait is bounded now: the step gets a transient error (it is retried; nothing is lost)."""
    from hub.flowkit import SlotsUnavailable

    with prefect_behind_a_fault_proxy(stack, tmp_path, SLOT + "-silent", {"kind": "timeout", "hold": 60, "count": 100}):
        started = time.monotonic()
        with pytest.raises(SlotsUnavailable, match="waited 2 s") as raised:
            asyncio.run(hold_the_slot(SLOT + "-silent", wait=2))
        assert time.monotonic() - started < 15, "the wait is bounded by its own deadline, not Prefect's timeouts"
    assert raised.value.kind == "transient"


HOLDER = '''
import asyncio, json, os, sys, time
from hub.slots import global_slots

async def block(out):
    async with global_slots(sys.argv[1], wait=120):
        start = time.time()
        await asyncio.sleep(0.2)
        out.write(json.dumps([os.getpid(), start, time.time()]) + "\\n")

async def main():
    with open(sys.argv[2], "a") as out:
        await asyncio.gather(*(block(out) for _ in range(6)))

asyncio.run(main())
'''


def test_a_slot_is_lent_from_block_to_block_in_a_process_and_never_shared_across_processes(
        stack: Stack, tmp_path: Path) -> None:
    """A lease taken from Prefect serves the blocks of one process that wait for it, one after
    another, instead of going back to Prefect after each (two API calls and two commits each:
    it halved the laptop batch's throughput). The limit still holds across processes: two
    processes, six blocks each, on a one-slot limit — no two blocks ever overlap."""
    import subprocess
    import sys

    from sandbox.procs import ROOT

    slot = SLOT + "-lent"
    with prefect_behind_a_fault_proxy(stack, tmp_path, slot, None) as stats:
        held, most = 0, 0

        async def one() -> None:
            nonlocal held, most
            async with global_slots(slot, wait=60):
                held += 1
                most = max(most, held)
                await asyncio.sleep(0.05)
                held -= 1

        async def eight() -> None:
            await asyncio.gather(*(one() for _ in range(8)))

        asyncio.run(eight())
        requests = stats()["requests"]
    assert most == 1, "one block at a time holds a one-slot limit"
    # Taking and giving back per block costs at least 16 requests (8 takes, 8 releases), more
    # with denied asks; a lent lease costs one take, one release, and the asks for a second
    # lease while blocks wait (given back at once if the first served them meanwhile).
    assert requests < 16, f"eight blocks cost {requests} slot requests: the lease was not lent on"

    log, trace = tmp_path / "intervals.jsonl", tmp_path / "slot-trace.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT), SLOT_TRACE: str(trace)}
    procs = [subprocess.Popen([sys.executable, "-c", HOLDER, slot, str(log)], cwd=ROOT, env=env) for _ in range(2)]
    assert [p.wait(timeout=180) for p in procs] == [0, 0]
    intervals = sorted(tuple(json.loads(line)) for line in log.read_text().splitlines())
    assert len(intervals) == 12 and len({pid for pid, _, _ in intervals}) == 2
    ordered = sorted(intervals, key=lambda i: i[1])
    overlaps = [(a, b) for a, b in itertools.pairwise(ordered) if b[1] < a[2]]
    assert not overlaps, f"two blocks held the one slot at once: {overlaps}"
    # HUB_SLOT_TRACE (what bench.backlog reads): both processes appended every block's hold to
    # one file, and it tells the same story — one holder at a time, each hold covering its block.
    used = occupancy(read(trace), slot, 1)
    assert used is not None and (used.blocks, used.processes, used.most_held) == (12, 2, 1)
    assert 0.2 <= used.hold_p50 < 5 and 0 < used.busy <= 1
