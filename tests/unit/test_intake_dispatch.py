"""The dispatcher under a burst, against a Prefect API played by an injected transport with
exact timing: one request's error must not fail the dispatches beside it, creations in flight
are bounded, and the sweeper never doubles a dispatch that is under way."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest

from hub.dispatch import Dispatcher, Route
from hub.ledger import EventState, InboxEvent, Ledger
from hub.settings import OSLO

DEPLOYMENT_ID = uuid.uuid4()
FLOW_ID = uuid.uuid4()
ROUTES: dict[str, Route | str] = {"dfo:ansatte": Route("onboarding/onboarding",
                                                       lambda ev: {"employee_id": ev.subject_id})}


class FakePrefect:
    """The three Prefect API calls the dispatcher makes, with a hook deciding each creation."""

    def __init__(self, decide: Callable[[str, int], Awaitable[int]]) -> None:
        self.decide = decide  # (idempotency key, how many times it was asked) -> HTTP status
        self.asked: Counter[str] = Counter()
        self.created: dict[str, str] = {}
        self.parameters: dict[str, dict[str, object]] = {}  # idempotency key -> the run's parameters
        self.in_flight = 0
        self.most_in_flight = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/csrf-token"):
            return httpx.Response(422, json={"detail": "CSRF protection is disabled."})
        if "/deployments/name/" in path:
            return httpx.Response(200, json={"id": str(DEPLOYMENT_ID), "name": "onboarding",
                                             "flow_id": str(FLOW_ID)})
        assert path.endswith(f"/deployments/{DEPLOYMENT_ID}/create_flow_run"), path
        key = json.loads(request.content)["idempotency_key"]
        self.parameters[key] = json.loads(request.content).get("parameters") or {}
        self.asked[key] += 1
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            status = await self.decide(key, self.asked[key])
        finally:
            self.in_flight -= 1
        if status != 201:
            return httpx.Response(status, json={"detail": "injected"})
        run_id = self.created.setdefault(key, str(uuid.uuid4()))  # Prefect's idempotency
        return httpx.Response(201, json={"id": run_id, "name": "run", "flow_id": str(FLOW_ID),
                                         "deployment_id": str(DEPLOYMENT_ID), "idempotency_key": key})


def _dispatcher(ledger: Ledger, prefect: FakePrefect, concurrency: int = 4) -> Dispatcher:
    from prefect.client.orchestration import get_client

    transport = httpx.MockTransport(prefect)
    return Dispatcher(ledger, tz=OSLO, routes=ROUTES, concurrency=concurrency,
                      client_factory=lambda: get_client(httpx_settings={"transport": transport}))


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)


@pytest.fixture(autouse=True)
def prefect_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.invalid/api")
    monkeypatch.setenv("PREFECT_CLIENT_MAX_RETRIES", "0")


def _events(ledger: Ledger, n: int) -> list[InboxEvent]:
    return [ledger.record_event(source="dfo", kind="dfo:ansatte", subject_id=f"{10000 + i}",
                                dedupe_key=f"burst:{i}", payload={}, valid_after=date.today())[0]
            for i in range(n)]


async def test_one_error_does_not_fail_the_dispatches_beside_it(ledger: Ledger) -> None:
    """20 dispatches at once. Each first creation is busy (503 after 100 ms) and retried; one
    event's creation fails at 50 ms with a 500 — while the others are still in flight. Only
    that one event is kept for the sweeper; the client shared by the others stays usable.
    (Before: the 500 closed the shared client and the 19 retries failed on it.)"""
    events = _events(ledger, 20)
    doomed = events[7].dedupe_key

    async def decide(key: str, asked: int) -> int:
        if key == doomed:
            await asyncio.sleep(0.05)
            return 500
        if asked == 1:
            await asyncio.sleep(0.1)
            return 503
        return 201

    prefect = FakePrefect(decide)
    dispatcher = _dispatcher(ledger, prefect, concurrency=20)
    try:
        results = await asyncio.gather(*(dispatcher.dispatch(e) for e in events))
    finally:
        await dispatcher.aclose()
    assert [r is None for r in results] == [e.dedupe_key == doomed for e in events]
    stored = {e.id: ledger.get_event(e.id) for e in events}
    failed = [e for e in stored.values() if e.state != EventState.DISPATCHED]
    assert [e.dedupe_key for e in failed] == [doomed] and failed[0].dispatch_attempts == 1
    assert all(e.dispatch_attempts == 1 for e in stored.values())
    assert len(prefect.created) == 19


async def test_creations_in_flight_are_bounded(ledger: Ledger) -> None:
    async def decide(key: str, asked: int) -> int:
        await asyncio.sleep(0.02)
        return 201

    prefect = FakePrefect(decide)
    dispatcher = _dispatcher(ledger, prefect, concurrency=3)
    try:
        results = await asyncio.gather(*(dispatcher.dispatch(e) for e in _events(ledger, 30)))
    finally:
        await dispatcher.aclose()
    assert all(results) and len(set(results)) == 30
    assert prefect.most_in_flight == 3


async def test_the_sweeper_leaves_an_event_whose_dispatch_is_under_way(ledger: Ledger) -> None:
    """An event waits for a slot longer than the sweeper's threshold: one creation, not two."""
    release = asyncio.Event()

    async def decide(key: str, asked: int) -> int:
        await release.wait()
        return 201

    prefect = FakePrefect(decide)
    dispatcher = _dispatcher(ledger, prefect, concurrency=1)
    (event,) = _events(ledger, 1)
    try:
        first = asyncio.create_task(dispatcher.dispatch(event))
        await asyncio.sleep(0.2)  # the creation is in flight
        assert await asyncio.wait_for(dispatcher.sweep(timedelta(0)), 5) == 0  # no second creation
        release.set()
        flow_run_id = await first
        assert await dispatcher.sweep(timedelta(0)) == 0  # handed over: nothing left to sweep
    finally:
        await dispatcher.aclose()
    assert flow_run_id and prefect.asked[event.dedupe_key] == 1
    stored = ledger.get_event(event.id)
    assert stored is not None and stored.dispatch_attempts == 1 and stored.flow_run_id == flow_run_id


async def test_a_busy_or_lost_answer_is_retried_to_the_same_run(ledger: Ledger) -> None:
    """502/503/504 are retried at once (the idempotency key makes a retried creation return the
    run the lost answer carried); the event is dispatched in one attempt."""
    statuses = iter([503, 502, 504])

    async def decide(key: str, asked: int) -> int:
        if asked == 2:
            prefect.created.setdefault(key, str(uuid.uuid4()))  # committed, but the answer is lost
        return next(statuses, 201)

    prefect = FakePrefect(decide)
    dispatcher = _dispatcher(ledger, prefect)
    (event,) = _events(ledger, 1)
    try:
        flow_run_id = await dispatcher.dispatch(event)
    finally:
        await dispatcher.aclose()
    assert flow_run_id == prefect.created[event.dedupe_key]
    assert prefect.asked[event.dedupe_key] == 4
    stored = ledger.get_event(event.id)
    assert stored is not None and stored.dispatch_attempts == 1
