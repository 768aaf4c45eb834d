"""Hand inbox events to Prefect: one deployment run per event and route, exactly once (or, for a
route taking events together, one run per burst).

Each event becomes a run of each deployment its kind is routed to (several services may act
on one kind: a new hire's record is onboarding's and the employment-changes router's), each
created with a deterministic idempotency key (:func:`route_key`: the event's dedupe key for
the first route, ``<dedupe key>|<deployment>`` for the others), as ``run_deployment`` does,
with the deployment id cached. An event counts as handed over only when every route has its
run; a partial failure keeps it for the sweeper, whose retry gets the runs that exist back. Prefect returns the *same* flow run for the same key, so a
sweeper that re-dispatches an event whose first hand-over was lost (the Prefect server was
down, the process died between creating the run and noting it) can never start a second
run. A ``gyldigEtter`` (valid after) in the future is scheduled for that day at
``start_hour`` Europe/Oslo.

A *repeat* — a new message for an event already received (the intake records it as an event
of its own, its payload naming the first under :data:`REPEATS`, its dedupe key the first's
plus the message id) — starts only the routes declared ``every_message``: a service that
acts once per change (onboarding) is not started again; one that re-reads the source (the
employment-changes router) is, under the repeat's own keys.

A burst is held by sending it together: the runs of one deployment asked for while a request
for that deployment is on its way go in the next request, as one bulk create (one request and
one database transaction for up to a hundred runs, :func:`hub.runs.start_deployment_runs`); an event
alone goes at once. Requests in flight towards Prefect are bounded (a semaphore), and one
Prefect client is shared, whose failure on one request never tears it down under the others.
A run Prefect refuses fails its own event only (kept for the sweeper); a request that fails
whole fails the events in it, each kept for the sweeper, whose retry gets back the runs that
exist (the idempotency keys).

A route declared ``together`` (onboarding and the employment-changes router) takes a burst's
events in *one* run: the events asked for while a request is on its way become one run per
``together`` of them (the route's), given their parameters as a list (:data:`~hub.services.BURST`), keyed
by :func:`together_key` of their own keys, and each event is noted with that run. In a burst of
hires each hire had two runs, and the routers' runs (each a flow run, a process and its state
changes for one HR read and a snapshot) halved the onboarding's pace while they lasted (80
hires, production shape: 0.37 onboardings/s while the routers ran, 0.7/s after); the
onboardings' own runs then cost Prefect more CPU than the peers spent on the hires (1,000 hires:
1.42 against 0.94 CPU-s per hire). The price is the exactness of the *run*: if a group's run was
created and its answer lost, the sweeper hands its events over again (alone, or grouped
otherwise: a new key), and each reaches its flow a second time. The work is a work item per
event (per hire), so the second time finds the item done and writes nothing; the effects stay
exactly once. A group run that dies before it claims its items is re-driven per member
(:mod:`hub.replay`, from the burst's parameters).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.ledger import EventState, InboxEvent, Ledger
from hub.privacy import mask
from hub.runs import BUSY_TRIES, start_deployment_run, start_deployment_runs
from hub.services import BURST, OnEvent, catalog

__all__ = ["Route", "Dispatcher", "scheduled_start", "route_key", "together_key", "REPEATS"]

log = logging.getLogger("hub.dispatch")


@dataclass(frozen=True)
class Route:
    """Which deployment an event kind starts, and with which parameters (never personal data)."""

    deployment: str
    parameters: Callable[[InboxEvent], dict[str, Any]]
    at_valid_after: bool = True  # a future gyldigEtter schedules the run for that day
    every_message: bool = False  # also started for a repeat of an event (see the module docstring)
    together: int = 0  # events sent together go to one run per this many (see the module docstring)


AnyRoute = Route | OnEvent

REPEATS = "repeats"  # in a repeat's payload: the id of the event it repeats

def together_key(keys: list[str]) -> str:
    """The idempotency key of the one run given the events of ``keys`` (their route keys):
    the same set of events, the same run."""
    return "together:" + hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:40]


def route_key(dedupe_key: str, index: int, deployment: str) -> str:
    """The idempotency key of an event's run on its ``index``-th route: the plain dedupe key for
    the first (as before routes fanned out), the key and the deployment for the others."""
    return dedupe_key if index == 0 else f"{dedupe_key}|{deployment}"


def _routes_of(found: AnyRoute | tuple[AnyRoute, ...] | str | None) -> tuple[AnyRoute, ...] | str | None:
    return (found,) if isinstance(found, Route | OnEvent) else found


def scheduled_start(valid_after: date | None, tz: ZoneInfo, start_hour: int,
                    now: datetime | None = None) -> datetime | None:
    """When to run: ``None`` (now) unless ``valid_after`` is a later day in Oslo."""
    if valid_after is None:
        return None
    today = (now or datetime.now(tz)).astimezone(tz).date()
    if valid_after <= today:
        return None
    return datetime.combine(valid_after, time(hour=start_hour), tzinfo=tz)


_DISPATCH_REFUSED_TRIES = BUSY_TRIES  # the intake's: as patient as with a 503 (~10 s), then the sweeper's


class RunRefused(RuntimeError):
    """Prefect answered a bulk create, and created no run for this one: its reason."""


class _Together:
    """The runs of one deployment, sent together: while a request is on its way, the runs asked
    for meanwhile wait and go in the next request, all of them at once. Nothing waits for
    company: a run asked for when no request is on its way is sent at once.

    Each caller gets its own run's id, or its own error: Prefect's refusal of its run
    (:class:`RunRefused`), or the error of the request it went in.

    With ``together`` (the route's, :class:`~hub.services.OnEvent`), the runs asked for meanwhile
    become *one* run per ``together`` of them, given their parameters as a list
    (:data:`~hub.services.BURST`), its key
    :func:`together_key` of theirs; every caller of a group gets the group's run. A run asked for
    alone stays the event's own run, under the event's own key."""

    def __init__(self, deployment: str,
                 send: Callable[[str, dict[str, dict[str, Any]]], Awaitable[tuple[dict[str, str], dict[str, str]]]],
                 together: int = 0) -> None:
        self.deployment = deployment
        self._send = send
        self._per_run = together
        self._waiting: dict[str, tuple[dict[str, Any], asyncio.Future[str]]] = {}
        self._sending: asyncio.Task[None] | None = None

    async def create(self, key: str, parameters: dict[str, Any]) -> str:
        loop = asyncio.get_running_loop()
        if self._sending is not None and self._sending.get_loop() is not loop:
            self._sending, self._waiting = None, {}  # used from a new event loop: the old one's are the sweeper's
        if key in self._waiting:  # asked twice before it was sent: one run, both told
            return await asyncio.shield(self._waiting[key][1])
        future: asyncio.Future[str] = loop.create_future()
        self._waiting[key] = (parameters, future)
        if self._sending is None or self._sending.done():
            self._sending = asyncio.create_task(self._send_all(), name=f"create runs of {self.deployment}")
        return await future  # a caller cancelled leaves its run to be created: the sweeper finds it by key

    async def _send_all(self) -> None:
        while self._waiting:
            batch, self._waiting = self._waiting, {}
            runs = self._runs(batch)
            try:
                started, refused = await self._send(self.deployment, {key: p for key, (p, _) in runs.items()})
            except Exception as exc:
                for _, future in batch.values():
                    if not future.done():
                        future.set_exception(exc)
                continue
            except BaseException:  # cancelled (the intake is stopping): nobody is left waiting
                for _, future in [*batch.values(), *self._waiting.values()]:
                    future.cancel()
                raise
            for run_key, (_, members) in runs.items():
                for key in members:
                    future = batch[key][1]
                    if future.done():
                        continue
                    if run_key in started:
                        future.set_result(started[run_key])
                    else:
                        future.set_exception(RunRefused(f"Prefect created no run of {self.deployment}: "
                                                        f"{refused.get(run_key, 'no answer for it')}"))

    def _runs(self, batch: dict[str, tuple[dict[str, Any], asyncio.Future[str]]]
              ) -> dict[str, tuple[dict[str, Any], list[str]]]:
        """The runs to create for ``batch``: run key → (parameters, the keys of the callers it serves)."""
        keys, size = list(batch), max(self._per_run, 1)
        runs: dict[str, tuple[dict[str, Any], list[str]]] = {}
        for first in range(0, len(keys), size):
            group = keys[first:first + size]
            if len(group) == 1:  # alone: the event's own run, under its own key
                runs[group[0]] = (batch[group[0]][0], group)
            else:
                runs[together_key(group)] = ({BURST: [batch[key][0] for key in group]}, group)
        return runs

    async def aclose(self) -> None:
        if self._sending is not None and not self._sending.done():
            self._sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sending


class _Client:
    """One Prefect client and the dispatches using it.

    A client is retired (closed once its last user is done) only when it is really broken
    or points at another API URL than the settings now say; one request's error is that
    request's alone, and httpx's pool replaces a dead connection by itself.
    """

    def __init__(self, client: Any, api_url: str) -> None:
        self.client = client
        self.api_url = api_url
        self.users = 0
        self.retired = False


def _is_broken(exc: BaseException) -> bool:
    """The client object itself is unusable (closed, or bound to a finished event loop)."""
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("closed" in text or "event loop" in text)


def _current_api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return str(PREFECT_API_URL.value() or "")


class Dispatcher:
    """Hands events to Prefect, at most ``concurrency`` creations in flight at once.

    The intake calls :meth:`dispatch` for each new event; the sweeper calls :meth:`sweep` for
    those that missed. An event is worked on by one of them at a time (claimed in memory,
    then its state re-read), and Prefect's idempotency key makes any remaining overlap
    (another intake process) harmless.
    """

    def __init__(self, ledger: Ledger, *, tz: ZoneInfo, start_hour: int = 6,
                 routes: Mapping[str, AnyRoute | tuple[AnyRoute, ...] | str] | None = None,
                 deployment_overrides: dict[str, str] | None = None, concurrency: int = 4,
                 client_factory: Callable[[], Any] | None = None) -> None:
        self.ledger = ledger
        self.tz = tz
        self.start_hour = start_hour
        if routes is None:
            routes = catalog().event_routes()
        self.routes: dict[str, tuple[AnyRoute, ...] | str] = {
            kind: found for kind, given in routes.items() if (found := _routes_of(given)) is not None}
        self.overrides = deployment_overrides or {}
        self._sweep_lock = asyncio.Lock()
        self._client_lock = asyncio.Lock()
        self._slots = asyncio.Semaphore(concurrency)
        self._current: _Client | None = None
        self._deployment_ids: dict[str, Any] = {}
        self._in_flight: set[str] = set()
        self._together: dict[str, _Together] = {}  # per deployment: the runs sent together
        self._client_factory = client_factory  # default: prefect's get_client (tests pass a transport)

    async def dispatch(self, event: InboxEvent, *, reread: bool = False) -> str | None:
        """Create (or find) the flow run for ``event``; return its id, or None if not now.

        ``reread``: the caller's copy may be stale (the sweeper's list); look at the ledger
        after claiming the event, and leave it if it was handed over meanwhile.
        """
        if event.id in self._in_flight:
            return None  # the intake's hand-over and the sweeper met: one of them is enough
        self._in_flight.add(event.id)
        try:
            if reread:
                fresh = await asyncio.to_thread(self.ledger.get_event, event.id)
                if fresh is None or fresh.state != EventState.RECEIVED:
                    return None  # handed over (or ignored) since the caller read it
                event = fresh
            return await self._dispatch(event)
        finally:
            self._in_flight.discard(event.id)

    async def _dispatch(self, event: InboxEvent) -> str | None:
        routes = self.routes.get(event.kind)
        repeats = (event.payload or {}).get(REPEATS)
        if repeats and routes and not isinstance(routes, str):
            routes = tuple(r for r in routes if r.every_message) or \
                f"a repeat of event {repeats}, and no service of {event.kind!r} acts on every message"
        if not routes or isinstance(routes, str):
            reason = routes if isinstance(routes, str) and routes else \
                f"no service handles events of kind {event.kind!r}"
            await asyncio.to_thread(self.ledger.mark_ignored, event.id, reason)
            log.info("event %s (%s) ignored: %s", event.id, event.kind, reason)
            return None
        at_valid_after = scheduled_start(event.valid_after, self.tz, self.start_hour)
        started: list[tuple[str, str, datetime | None]] = []
        failure: Exception | None = None

        async def one(index: int, route: AnyRoute) -> tuple[str, str, datetime | None]:
            when = at_valid_after if route.at_valid_after else None
            deployment = self.overrides.get(route.deployment, route.deployment)
            flow_run_id = await self._create_run(deployment, route.parameters(event),
                                                 key=route_key(event.dedupe_key, index, route.deployment), when=when,
                                                 together=route.together)
            return deployment, flow_run_id, when

        # The first route (the service the event is for: onboarding for a hire) first, then the
        # others side by side; a failure of one does not stop the others. Sent side by side, a
        # burst's second-route runs (the employment-changes router) were created and running
        # while the first route's waited for a busy SQLite Prefect ("database is locked"): with
        # 30 hires at once the first onboarding began 4.7–14.3 s after the first event, now
        # 1.8–2.0 s (bench/backlog, two runs each). The price: a second route's run comes one
        # creation later (~50 ms alone).
        outcomes = [*await asyncio.gather(one(0, routes[0]), return_exceptions=True),
                    *await asyncio.gather(*(one(i, r) for i, r in enumerate(routes) if i), return_exceptions=True)]
        for outcome in outcomes:
            if isinstance(outcome, Exception):  # Prefect unreachable or refusing: keep it, retry later
                failure = failure or outcome
            elif isinstance(outcome, BaseException):
                raise outcome  # cancelled: the intake is stopping
            else:
                started.append(outcome)
        if failure is not None:
            retry_in = timedelta(seconds=min(300, 2 ** min(event.dispatch_attempts + 1, 8)))
            await asyncio.to_thread(self.ledger.mark_dispatch_failed, event.id,
                                    f"{failure.__class__.__name__}: {failure}", retry_in)
            log.warning("event %s kept in the inbox: Prefect did not take it (%d of %d run(s) created: %s); "
                        "the sweeper retries in %ss. Check that the Prefect server is up (hub status).",
                        event.id, len(started), len(routes), mask(str(failure))[:200],
                        int(retry_in.total_seconds()))
            return None
        first_run, first_when = started[0][1], started[0][2]
        await asyncio.to_thread(self.ledger.mark_dispatched, event.id, first_run, first_when)
        for deployment, flow_run_id, when in started:
            if when:
                log.info("event %s → %s run %s scheduled for %s", event.id, deployment, flow_run_id,
                         when.isoformat())
            else:
                log.info("event %s → %s run %s", event.id, deployment, flow_run_id)
        return first_run

    async def _create_run(self, deployment: str, parameters: dict[str, Any], *, key: str,
                          when: datetime | None, together: int = 0) -> str:
        if when is None:  # a run to start now goes with the others asked for meanwhile
            sender = self._together.get(deployment)
            if sender is None:
                sender = self._together[deployment] = _Together(deployment, self._create_runs, together)
            return await sender.create(key, parameters)
        async with self._slots, self._lease() as client:  # scheduled for a later day: rare, alone
            return await start_deployment_run(deployment, parameters, key=key, when=when,
                                              client=client, ids=self._deployment_ids)

    async def _create_runs(self, deployment: str, wanted: dict[str, dict[str, Any]]
                           ) -> tuple[dict[str, str], dict[str, str]]:
        async with self._slots, self._lease() as client:
            return await start_deployment_runs(deployment, wanted, client=client, ids=self._deployment_ids,
                                               tries=_DISPATCH_REFUSED_TRIES)

    async def warm_up(self) -> None:
        """Open the Prefect client and resolve the deployments before the first event."""
        async with self._lease() as client:
            for routes in self.routes.values():
                for route in () if isinstance(routes, str) else routes:
                    name = self.overrides.get(route.deployment, route.deployment)
                    self._deployment_ids[name] = (await client.read_deployment_by_name(name)).id

    @contextlib.asynccontextmanager
    async def _lease(self) -> AsyncIterator[Any]:
        """The shared client, kept open while this caller uses it."""
        from prefect.client.orchestration import get_client

        async with self._client_lock:
            current = self._current
            api_url = _current_api_url()
            if current is not None and current.api_url != api_url:
                await self._retire(current)  # the settings changed: new calls go to the new URL
                current = None
            if current is None:
                client = (self._client_factory or get_client)()
                await client.__aenter__()
                current = self._current = _Client(client, api_url)
            current.users += 1
        try:
            yield current.client
        except BaseException as exc:
            if _is_broken(exc):
                async with self._client_lock:
                    await self._retire(current)
            raise
        finally:
            current.users -= 1
            if current.retired and current.users == 0:
                await self._close(current)

    async def _retire(self, slot: _Client) -> None:
        """Stop handing ``slot`` out; close it now if nobody uses it, else when the last is done."""
        if self._current is slot:
            self._current = None
        if not slot.retired:
            slot.retired = True
            if slot.users == 0:
                await self._close(slot)

    @staticmethod
    async def _close(slot: _Client) -> None:
        client, slot.client = slot.client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await client.__aexit__(None, None, None)

    async def aclose(self) -> None:
        """Close the client (at shutdown, once dispatches have ended)."""
        for together in self._together.values():
            await together.aclose()
        async with self._client_lock:
            if self._current is not None:
                await self._retire(self._current)

    async def sweep(self, older_than: timedelta) -> int:
        """Re-dispatch events that never reached Prefect. Returns how many were handed over."""
        async with self._sweep_lock:
            waiting = await asyncio.to_thread(self.ledger.undispatched, older_than=older_than)
            due = [e for e in waiting if e.state == EventState.RECEIVED and e.id not in self._in_flight]
            results = await asyncio.gather(*(self.dispatch(e, reread=True) for e in due))
            handed = sum(1 for r in results if r)
            if handed:
                log.info("sweeper handed %d waiting event(s) to Prefect", handed)
            return handed
