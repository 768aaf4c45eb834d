"""The dispatcher under a burst, against a Prefect API played by an injected transport with
exact timing: a burst goes to Prefect together (bulk requests), one run's refusal does not
fail the dispatches beside it, a request that fails whole loses no event, and the sweeper
never doubles a dispatch that is under way."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from hub.dispatch import Dispatcher, Route
from hub.ledger import EventState, InboxEvent, Ledger
from hub.ledger.models import utcnow
from hub.settings import OSLO

DEPLOYMENT_ID = uuid.uuid4()
FLOW_ID = uuid.uuid4()
ROUTES: dict[str, Route | str] = {"dfo:ansatte": Route("onboarding/onboarding",
                                                       lambda ev: {"employee_id": ev.subject_id})}


class FakePrefect:
    """The Prefect API calls the dispatcher makes, with a hook deciding each creation: one run
    (a run scheduled for a later day), or many in one bulk request (a run to start now). A bulk
    request is answered 502/503/504 whole when any of its runs is (the server was busy), else
    per run: created, or refused with the hook's status."""

    def __init__(self, decide: Callable[[str, int], Awaitable[int]]) -> None:
        self.decide = decide  # (idempotency key, how many times it was asked) -> HTTP status
        self.asked: Counter[str] = Counter()
        self.created: dict[str, str] = {}
        self.parameters: dict[str, dict[str, object]] = {}  # idempotency key -> the run's parameters
        self.in_flight = 0
        self.most_in_flight = 0
        self.requests: list[list[str]] = []  # the idempotency keys of each bulk request

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/csrf-token"):
            return httpx.Response(422, json={"detail": "CSRF protection is disabled."})
        if "/deployments/name/" in path:
            return httpx.Response(200, json={"id": str(DEPLOYMENT_ID), "name": "onboarding",
                                             "flow_id": str(FLOW_ID)})
        if path.endswith(f"/deployments/{DEPLOYMENT_ID}/create_flow_run/bulk"):
            return await self.bulk(json.loads(request.content))
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


    async def bulk(self, runs: list[dict[str, Any]]) -> httpx.Response:
        keys = [run["idempotency_key"] for run in runs]
        for run in runs:
            self.parameters[run["idempotency_key"]] = run.get("parameters") or {}
            self.asked[run["idempotency_key"]] += 1
        self.requests.append(keys)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            statuses = await asyncio.gather(*(self.decide(key, self.asked[key]) for key in keys))
        finally:
            self.in_flight -= 1
        busy = [status for status in statuses if status in (502, 503, 504)]
        if busy:
            return httpx.Response(busy[0], json={"detail": "injected"})
        return httpx.Response(200, json={"results": [
            {"status": "CREATED", "flow_run_id": self.created.setdefault(key, str(uuid.uuid4()))} if status == 201
            else {"status": "FAILED", "error": f"injected {status}"} for key, status in zip(keys, statuses, strict=True)]})


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
    return _events_from(ledger, 0, n)


def _events_from(ledger: Ledger, first: int, n: int) -> list[InboxEvent]:
    return [ledger.record_event(source="dfo", kind="dfo:ansatte", subject_id=f"{10000 + i}",
                                dedupe_key=f"burst:{i}", payload={}, valid_after=date.today())[0]
            for i in range(first, first + n)]


async def test_one_error_does_not_fail_the_dispatches_beside_it(ledger: Ledger) -> None:
    """20 dispatches at once, sent together. Each first creation is busy (503 after 100 ms: the
    request is answered 503 and sent again); Prefect refuses one event's run every time (500)
    — in the same requests as the others. Only that one event is kept for the sweeper; the
    client shared by the others stays usable. (Before: the 500 closed the shared client and
    the 19 retries failed on it.)"""
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


async def test_a_burst_goes_to_prefect_together_each_run_once(ledger: Ledger) -> None:
    """30 events at once go in one or two bulk requests (one database transaction each), not
    thirty: on a busy SQLite server each creation queued for the database on its own (2-30 s
    each), and that, not the runs, set the pace of a burst of hires. Each event gets its own
    run; one request per deployment is on its way at a time."""
    async def decide(key: str, asked: int) -> int:
        await asyncio.sleep(0.02)
        return 201

    prefect = FakePrefect(decide)
    dispatcher = _dispatcher(ledger, prefect, concurrency=3)
    events = _events(ledger, 30)
    try:
        results = await asyncio.gather(*(dispatcher.dispatch(e) for e in events))
        later = await dispatcher.dispatch(_events_from(ledger, 30, 1)[0])  # alone: sent at once, alone
    finally:
        await dispatcher.aclose()
    assert all(results) and len(set(results)) == 30
    assert [results[i] == prefect.created[e.dedupe_key] for i, e in enumerate(events)] == [True] * 30
    assert 1 <= len(prefect.requests) - 1 <= 2 and sum(map(len, prefect.requests[:-1])) == 30
    assert prefect.requests[-1] == ["burst:30"] and later == prefect.created["burst:30"]
    assert prefect.most_in_flight == 1 and max(prefect.asked.values()) == 1


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
    run the lost answer carried); the event is dispatched in one attempt. "At once": Prefect's
    client sleeps 2 s after a 503 even with no retries left (``PREFECT_CLIENT_MAX_RETRIES=0``),
    so the request does not go through it (``hub.prefect_api.send_once``)."""
    statuses = iter([503, 502, 504])

    async def decide(key: str, asked: int) -> int:
        if asked == 2:
            prefect.created.setdefault(key, str(uuid.uuid4()))  # committed, but the answer is lost
        return next(statuses, 201)

    prefect = FakePrefect(decide)
    dispatcher = _dispatcher(ledger, prefect)
    (event,) = _events(ledger, 1)
    started = time.monotonic()
    try:
        flow_run_id = await dispatcher.dispatch(event)
    finally:
        await dispatcher.aclose()
    took = time.monotonic() - started
    assert flow_run_id == prefect.created[event.dedupe_key]
    assert prefect.asked[event.dedupe_key] == 4
    assert took < 3, f"three busy answers cost the dispatcher's pauses (~0.35 s), not 2 s each: {took:.1f} s"
    stored = ledger.get_event(event.id)
    assert stored is not None and stored.dispatch_attempts == 1


async def test_a_request_that_fails_whole_keeps_each_of_its_events_for_the_sweeper(ledger: Ledger) -> None:
    """Prefect answers a bulk request 500 as a whole (after creating its runs): every event in it
    is kept for the sweeper, none lost; the sweeper's retry gets each the run that exists."""
    class FailFirstRequest(FakePrefect):
        async def bulk(self, runs: list[dict[str, Any]]) -> httpx.Response:
            answer = await super().bulk(runs)
            return httpx.Response(500, json={"detail": "injected"}) if len(self.requests) == 1 else answer

    async def accept(key: str, asked: int) -> int:
        return 201

    prefect = FailFirstRequest(accept)
    dispatcher = _dispatcher(ledger, prefect)
    events = _events(ledger, 5)
    try:
        assert await asyncio.gather(*(dispatcher.dispatch(e) for e in events)) == [None] * 5
        assert {e.state for e in map(ledger.get_event, [e.id for e in events]) if e} == {EventState.RECEIVED}
        with ledger.session() as s:  # the retry time has come
            s.execute(update(InboxEvent).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        assert await dispatcher.sweep(older_than=timedelta(0)) == 5
    finally:
        await dispatcher.aclose()
    stored = [ledger.get_event(e.id) for e in events]
    assert all(e is not None and e.state == EventState.DISPATCHED and e.dispatch_attempts == 2 for e in stored)
    assert [e.flow_run_id for e in stored if e] == [prefect.created[e.dedupe_key] for e in events]
    assert len(prefect.created) == 5 and all(n == 2 for n in prefect.asked.values())


def test_a_dispatcher_used_from_a_new_event_loop_sends_from_there(ledger: Ledger) -> None:
    """One event loop, then another (as tests and tools use a dispatcher): the runs sent together
    belong to the loop that asked for them, and the next loop's dispatch is sent from there."""
    async def accept(key: str, asked: int) -> int:
        return 201

    prefect = FakePrefect(accept)
    dispatcher = _dispatcher(ledger, prefect)
    first, second = _events(ledger, 2)

    async def once(event: InboxEvent) -> str | None:
        try:
            return await asyncio.wait_for(dispatcher.dispatch(event), 10)
        finally:
            await dispatcher.aclose()

    assert asyncio.run(once(first)) == prefect.created[first.dedupe_key]
    assert asyncio.run(once(second)) == prefect.created[second.dedupe_key]
