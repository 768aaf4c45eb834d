"""Several services on one event kind: one run per route, exactly once, also after a partial
failure. The Prefect API is played by an injected transport (as in test_intake_dispatch)."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from hub.dispatch import REPEATS, Dispatcher, Route, route_key, together_key
from hub.ledger import EventState, Ledger
from hub.ledger.models import InboxEvent, utcnow
from hub.services import BURST, burst_members
from hub.settings import OSLO
from tests.unit.test_intake_dispatch import FakePrefect

ONBOARDING, ROUTER = "onboarding/onboarding", "employment-changes/employment-changes"
ROUTES: dict[str, tuple[Route, ...] | str] = {"dfo:ansatte": (
    Route(ONBOARDING, lambda ev: {"employee_id": ev.subject_id}),
    Route(ROUTER, lambda ev: {"employee_id": ev.subject_id, "event_id": ev.id}, at_valid_after=False,
          every_message=True)),
    "dfo:other": (Route(ONBOARDING, lambda ev: {"employee_id": ev.subject_id}),)}


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)


@pytest.fixture(autouse=True)
def prefect_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.invalid/api")
    monkeypatch.setenv("PREFECT_CLIENT_MAX_RETRIES", "0")


def _dispatcher(ledger: Ledger, prefect: FakePrefect,
                routes: dict[str, tuple[Route, ...] | str] | None = None) -> Dispatcher:
    from prefect.client.orchestration import get_client

    transport = httpx.MockTransport(prefect)
    return Dispatcher(ledger, tz=OSLO, routes=routes or ROUTES,
                      client_factory=lambda: get_client(httpx_settings={"transport": transport}))


def test_route_keys_are_distinct_and_the_first_is_the_plain_dedupe_key() -> None:
    assert route_key("dfo:1:2026-12-01", 0, ONBOARDING) == "dfo:1:2026-12-01"
    assert route_key("dfo:1:2026-12-01", 1, ROUTER) == f"dfo:1:2026-12-01|{ROUTER}"


async def test_a_partial_failure_then_the_sweeper_gives_exactly_one_run_per_route(ledger: Ledger) -> None:
    """The first route's run is created, the second is refused (500, for as long as the
    dispatch asks): the event stays in the inbox. The sweeper's retry asks for both again and
    gets the first back (its idempotency key), so each route ends with exactly one run."""
    future = date.today() + timedelta(days=20)
    event, _ = ledger.record_event(source="dfo", kind="dfo:ansatte", subject_id="10004",
                                   dedupe_key="dfo:ansatte:10004:x", payload={}, valid_after=future)
    refuse_router_once = route_key(event.dedupe_key, 1, ROUTER)

    refusing = True

    async def decide(key: str, asked: int) -> int:
        return 500 if key == refuse_router_once and refusing else 201

    prefect = FakePrefect(decide)
    dispatcher = _dispatcher(ledger, prefect)
    try:
        assert await dispatcher.dispatch(event) is None
        kept = ledger.get_event(event.id)
        assert kept is not None and kept.state == EventState.RECEIVED and kept.dispatch_attempts == 1
        assert list(prefect.created) == [event.dedupe_key]  # the first route's run exists

        refusing = False
        with ledger.session() as s:  # the retry time has come
            s.execute(update(InboxEvent).where(InboxEvent.id == event.id)
                      .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        assert await dispatcher.sweep(older_than=timedelta(0)) == 1
    finally:
        await dispatcher.aclose()

    assert sorted(prefect.created) == sorted([event.dedupe_key, refuse_router_once])  # one run per route
    assert prefect.asked[event.dedupe_key] == 2  # asked again, and given the same run
    handed = ledger.get_event(event.id)
    assert handed is not None and handed.state == EventState.DISPATCHED
    assert handed.flow_run_id == prefect.created[event.dedupe_key]  # the first route's run
    # onboarding waits for the future gyldigEtter; the router runs at once
    assert handed.scheduled_for is not None and handed.scheduled_for.astimezone(OSLO).date() == future


async def test_a_repeat_starts_only_the_routes_acting_on_every_message_under_its_own_key(ledger: Ledger) -> None:
    """A new message for an event already received (a reversal with the same gyldigEtter looks
    just like a re-announcement) is handed to the router again, under its own idempotency key;
    onboarding, once per event, is not started again."""
    later = date.today() + timedelta(days=30)
    first, _ = ledger.record_event(source="dfo", kind="dfo:ansatte", subject_id="10004",
                                   dedupe_key=f"dfo:ansatte:10004:{later}", payload={"webhook_id": "msg_1"},
                                   valid_after=later)
    repeat, _ = ledger.record_event(source="dfo", kind="dfo:ansatte", subject_id="10004",
                                    dedupe_key=f"{first.dedupe_key}#msg_2",
                                    payload={"webhook_id": "msg_2", REPEATS: first.id}, valid_after=later)
    other, _ = ledger.record_event(source="dfo", kind="dfo:other", subject_id="10004", dedupe_key="dfo:other:1#msg_3",
                                   payload={"webhook_id": "msg_3", REPEATS: "an-earlier-event"}, valid_after=None)

    async def accept(key: str, asked: int) -> int:
        return 201

    prefect = FakePrefect(accept)
    dispatcher = _dispatcher(ledger, prefect)
    try:
        for event in (first, repeat, other):
            await dispatcher.dispatch(event)
    finally:
        await dispatcher.aclose()

    assert sorted(prefect.created) == sorted([first.dedupe_key, route_key(first.dedupe_key, 1, ROUTER),
                                              repeat.dedupe_key])
    assert prefect.parameters[repeat.dedupe_key] == {"employee_id": "10004", "event_id": repeat.id}  # the router
    handed = ledger.get_event(repeat.id)
    assert handed is not None and handed.state == EventState.DISPATCHED and handed.scheduled_for is None
    assert handed.flow_run_id == prefect.created[repeat.dedupe_key]
    ignored = ledger.get_event(other.id)
    assert ignored is not None and ignored.state == EventState.IGNORED
    assert "no service of 'dfo:other' acts on every message" in (ignored.last_error or "")


async def test_in_a_burst_each_event_s_first_route_is_created_before_its_others_are_asked_for(
        ledger: Ledger) -> None:
    """The event's own service first (onboarding for a hire), then the other routes: runs of the
    router created side by side started at once and kept a SQLite Prefect busy while the
    onboarding runs of the same burst waited for its database (16 s for 30 hires). Each event
    still gets both runs, and a burst's runs still go in bulk requests."""
    events = [ledger.record_event(source="dfo", kind="dfo:ansatte", subject_id=str(20000 + n),
                                  dedupe_key=f"dfo:ansatte:{20000 + n}:burst", payload={}, valid_after=None)[0]
              for n in range(12)]
    first_of = {route_key(e.dedupe_key, 1, ROUTER): e.dedupe_key for e in events}
    early: list[str] = []

    async def accept(key: str, asked: int) -> int:
        if key in first_of and first_of[key] not in prefect.created:
            early.append(key)  # a router run asked for before its event's onboarding run existed
        await asyncio.sleep(0.02)
        return 201

    prefect = FakePrefect(accept)
    dispatcher = _dispatcher(ledger, prefect)
    try:
        await asyncio.gather(*(dispatcher.dispatch(e) for e in events))
    finally:
        await dispatcher.aclose()

    assert early == []
    assert len(prefect.created) == 2 * len(events)
    assert len(prefect.requests) < len(events)  # sent together, not one request per run


def _routed(parameters: dict[str, Any]) -> list[str]:
    """The events a router run was given, its burst's or its own (onboarding runs carry none)."""
    return [given["event_id"] for given in burst_members(parameters) if given.get("event_id")]


TOGETHER_ROUTES: dict[str, tuple[Route, ...] | str] = {"dfo:ansatte": (
    Route(ONBOARDING, lambda ev: {"employee_id": ev.subject_id}),
    Route(ROUTER, lambda ev: {"employee_id": ev.subject_id, "event_id": ev.id}, at_valid_after=False,
          every_message=True, together=50))}


def _burst(ledger: Ledger, count: int, tag: str) -> list[InboxEvent]:
    return [ledger.record_event(source="dfo", kind="dfo:ansatte", subject_id=str(30000 + n),
                                dedupe_key=f"dfo:ansatte:{30000 + n}:{tag}", payload={}, valid_after=None)[0]
            for n in range(count)]


async def test_a_burst_s_events_reach_a_route_taking_them_together_in_far_fewer_runs_each_event_in_one(
        ledger: Ledger) -> None:
    """A burst of hires: one onboarding run each, and the router's runs each take the events
    asked for while a request was on its way. Every event is in exactly one router run, and is
    handed over; an event alone still gets a run of its own, under its own key."""
    events = _burst(ledger, 30, "together")

    async def accept(key: str, asked: int) -> int:
        await asyncio.sleep(0.02)
        return 201

    prefect = FakePrefect(accept)
    dispatcher = _dispatcher(ledger, prefect, TOGETHER_ROUTES)
    try:
        await asyncio.gather(*(dispatcher.dispatch(e) for e in events))
        alone = _burst(ledger, 1, "alone")[0]
        await dispatcher.dispatch(alone)
    finally:
        await dispatcher.aclose()

    router_runs = {key: p for key, p in prefect.parameters.items() if _routed(p)}
    onboarding_runs = [key for key in prefect.created if key not in router_runs]
    assert len(onboarding_runs) == len(events) + 1  # one per hire, as before
    routed = [i for p in router_runs.values() for i in _routed(p)]
    assert sorted(routed) == sorted(e.id for e in [*events, alone])  # each event once, none lost
    assert len(router_runs) <= len(events) // 3  # a burst, not a run per hire
    assert prefect.parameters[route_key(alone.dedupe_key, 1, ROUTER)] == {"employee_id": "30000",
                                                                          "event_id": alone.id}
    for group in (_routed(p) for p in router_runs.values() if BURST in p):
        assert together_key([route_key(next(e.dedupe_key for e in events if e.id == i), 1, ROUTER)
                             for i in group]) in prefect.created  # the key names its events
    for event in events:
        handed = ledger.get_event(event.id)
        assert handed is not None and handed.state == EventState.DISPATCHED


async def test_a_route_s_runs_take_at_most_its_together_each(ledger: Ledger) -> None:
    """Onboarding takes a dozen hires a run: a burst of 30 is split, none left out, none twice."""
    events = _burst(ledger, 30, "dozens")

    async def accept(key: str, asked: int) -> int:
        await asyncio.sleep(0.02)
        return 201

    prefect = FakePrefect(accept)
    routes: dict[str, tuple[Route, ...] | str] = {"dfo:ansatte": (
        Route(ROUTER, lambda ev: {"event_id": ev.id}, together=4),)}
    dispatcher = _dispatcher(ledger, prefect, routes)
    try:
        await asyncio.gather(*(dispatcher.dispatch(e) for e in events))
    finally:
        await dispatcher.aclose()

    runs = [_routed(prefect.parameters[key]) for key in prefect.created]
    assert sorted(i for run in runs for i in run) == sorted(e.id for e in events)
    assert max(len(run) for run in runs) == 4 and len(runs) < len(events)


async def test_a_group_run_prefect_refuses_keeps_each_of_its_events_for_the_sweeper(ledger: Ledger) -> None:
    """Prefect refuses the router's group run: each event in it is kept in the inbox (its
    onboarding run exists), and the sweeper hands them over again; each event then reaches the
    router in exactly one run, and its onboarding run is found again, not made twice."""
    events = _burst(ledger, 12, "refused")
    refusing = True

    async def decide(key: str, asked: int) -> int:
        await asyncio.sleep(0.02)
        return 500 if key.startswith("together:") and refusing else 201

    prefect = FakePrefect(decide)
    dispatcher = _dispatcher(ledger, prefect, TOGETHER_ROUTES)
    try:
        await asyncio.gather(*(dispatcher.dispatch(e) for e in events))
        kept = [e for e in events if ledger.get_event(e.id).state == EventState.RECEIVED]  # type: ignore[union-attr]
        assert kept, "no group run was asked for: the burst did not come together"
        refusing = False
        with ledger.session() as s:
            s.execute(update(InboxEvent).where(InboxEvent.id.in_([e.id for e in kept]))
                      .values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        assert await dispatcher.sweep(older_than=timedelta(0)) == len(kept)
    finally:
        await dispatcher.aclose()

    for event in kept:  # the sweeper's retry found the onboarding run by its key
        assert prefect.asked[event.dedupe_key] == 2
    created = [prefect.parameters[key] for key in prefect.created]
    routed = [i for p in created for i in _routed(p)]
    assert sorted(routed) == sorted(e.id for e in events)  # each event in exactly one router run
    assert len(created) < 2 * len(events)  # the router took them together again
    assert all(ledger.get_event(e.id).state == EventState.DISPATCHED for e in events)  # type: ignore[union-attr]


async def test_a_group_run_created_but_its_answer_lost_loses_no_event(ledger: Ledger) -> None:
    """Prefect creates the router's group run and its answer is lost (500 for the whole
    request): the group's events are kept for the sweeper, whose retry hands each to the router
    again. None is lost; an event may reach the router twice (the group run, then its retry),
    never more, and a second time finds its work item done (the burst test in
    tests/flows/test_employment.py)."""
    lost_once: list[str] = []

    class LoseTheGroupsAnswer(FakePrefect):
        async def bulk(self, runs: list[dict[str, Any]]) -> httpx.Response:
            answer = await super().bulk(runs)
            if not lost_once and any(r["idempotency_key"].startswith("together:") for r in runs):
                lost_once.append("lost")
                return httpx.Response(500, json={"detail": "injected"})
            return answer

    async def accept(key: str, asked: int) -> int:
        await asyncio.sleep(0.02)
        return 201

    prefect = LoseTheGroupsAnswer(accept)
    dispatcher = _dispatcher(ledger, prefect, TOGETHER_ROUTES)
    events = _burst(ledger, 12, "lost")
    try:
        await asyncio.gather(*(dispatcher.dispatch(e) for e in events))
        assert lost_once, "no group run was asked for: the burst did not come together"
        kept = [e for e in events if ledger.get_event(e.id).state == EventState.RECEIVED]  # type: ignore[union-attr]
        assert kept
        with ledger.session() as s:
            s.execute(update(InboxEvent).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        assert await dispatcher.sweep(older_than=timedelta(0)) == len(kept)
    finally:
        await dispatcher.aclose()

    assert all(ledger.get_event(e.id).state == EventState.DISPATCHED for e in events)  # type: ignore[union-attr]
    routed = Counter(i for key in prefect.created for i in _routed(prefect.parameters[key]))
    assert set(routed) == {e.id for e in events}  # none lost
    assert max(routed.values()) <= 2  # the group run, and at most one retry
