"""Hand inbox events to Prefect: one deployment run per event, exactly once.

Each event becomes a run of its deployment created with ``idempotency_key=<event's dedupe
key>`` (what ``run_deployment`` does, with the deployment id cached). Prefect returns the *same* flow run for the same key, so a
sweeper that re-dispatches an event whose first hand-over was lost (the Prefect server was
down, the process died between creating the run and noting it) can never start a second
run. A ``gyldigEtter`` (valid after) in the future is scheduled for that day at
``start_hour`` Europe/Oslo.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hub.ledger import EventState, InboxEvent, Ledger
from hub.privacy import mask

__all__ = ["Route", "Dispatcher", "scheduled_start", "start_deployment_run", "ROUTES"]

log = logging.getLogger("hub.dispatch")


@dataclass(frozen=True)
class Route:
    """Which deployment an event kind starts, and with which parameters (never personal data)."""

    deployment: str
    parameters: Callable[[InboxEvent], dict[str, Any]]


ROUTES: dict[str, Route | str] = {
    "dfo:ansatte": Route("onboarding/onboarding",
                         lambda ev: {"employee_id": ev.subject_id, "event_id": ev.id}),
    # A position change says nothing about who starts; no service acts on it yet.
    "dfo:stillinger": "position changes (dfo:stillinger) are recorded but no service acts on them yet",
}


def scheduled_start(valid_after: date | None, tz: ZoneInfo, start_hour: int,
                    now: datetime | None = None) -> datetime | None:
    """When to run: ``None`` (now) unless ``valid_after`` is a later day in Oslo."""
    if valid_after is None:
        return None
    today = (now or datetime.now(tz)).astimezone(tz).date()
    if valid_after <= today:
        return None
    return datetime.combine(valid_after, time(hour=start_hour), tzinfo=tz)


async def start_deployment_run(deployment: str, parameters: dict[str, Any], *, key: str,
                               when: datetime | None = None, client: Any = None,
                               ids: dict[str, Any] | None = None) -> str:
    """Create the run of ``deployment`` for ``key`` (or get the one that exists); return its id.

    What ``run_deployment`` does, plus: the deployment id is cached in ``ids``, and 503s are
    retried within milliseconds. Prefect's SQLite server answers 503 when its database is
    momentarily busy and its client waits 2 s before retrying; processes that create runs on
    a hot path (the intake) run with ``PREFECT_CLIENT_MAX_RETRIES=0`` and rely on this loop.
    """
    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectHTTPStatusError
    from prefect.states import Scheduled

    if client is None:
        async with get_client() as fresh:
            return await start_deployment_run(deployment, parameters, key=key, when=when, client=fresh, ids=ids)
    ids = ids if ids is not None else {}
    state = Scheduled(scheduled_time=when) if when else Scheduled()
    for attempt in range(8):
        try:
            if deployment not in ids:
                ids[deployment] = (await client.read_deployment_by_name(deployment)).id
            flow_run = await client.create_flow_run_from_deployment(
                ids[deployment], parameters=parameters, idempotency_key=key, state=state, tags=["hub"])
            return str(flow_run.id)
        except PrefectHTTPStatusError as exc:
            if exc.response.status_code != 503 or attempt == 7:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


class Dispatcher:
    def __init__(self, ledger: Ledger, *, tz: ZoneInfo, start_hour: int = 6,
                 routes: dict[str, Route | str] | None = None,
                 deployment_overrides: dict[str, str] | None = None) -> None:
        self.ledger = ledger
        self.tz = tz
        self.start_hour = start_hour
        self.routes = routes if routes is not None else ROUTES
        self.overrides = deployment_overrides or {}
        self._lock = asyncio.Lock()
        self._prefect: Any = None
        self._deployment_ids: dict[str, Any] = {}

    async def dispatch(self, event: InboxEvent) -> str | None:
        """Create (or find) the flow run for ``event``; return its id, or None if not now."""
        route = self.routes.get(event.kind)
        if route is None or isinstance(route, str):
            reason = route or f"no service handles events of kind {event.kind!r}"
            self.ledger.mark_ignored(event.id, reason)
            log.info("event %s (%s) ignored: %s", event.id, event.kind, reason)
            return None
        when = scheduled_start(event.valid_after, self.tz, self.start_hour)
        deployment = self.overrides.get(route.deployment, route.deployment)
        try:
            flow_run_id = await self._create_run(deployment, route.parameters(event),
                                                 key=f"{event.dedupe_key}", when=when)
        except Exception as exc:  # Prefect unreachable or refusing: keep it, retry later
            retry_in = timedelta(seconds=min(300, 2 ** min(event.dispatch_attempts + 1, 8)))
            self.ledger.mark_dispatch_failed(event.id, f"{exc.__class__.__name__}: {exc}", retry_in)
            log.warning("event %s kept in the inbox: Prefect did not take it (%s); the sweeper "
                        "retries in %ss. Check that the Prefect server is up (hub status).",
                        event.id, mask(str(exc))[:200], int(retry_in.total_seconds()))
            return None
        self.ledger.mark_dispatched(event.id, flow_run_id, when)
        if when:
            log.info("event %s → %s run %s scheduled for %s", event.id, deployment, flow_run_id,
                     when.isoformat())
        else:
            log.info("event %s → %s run %s", event.id, deployment, flow_run_id)
        return flow_run_id

    async def _create_run(self, deployment: str, parameters: dict[str, Any], *, key: str,
                          when: datetime | None) -> str:
        try:
            return await start_deployment_run(deployment, parameters, key=key, when=when,
                                              client=await self._client(), ids=self._deployment_ids)
        except Exception:
            await self.aclose()  # start afresh next time (new connection, current settings)
            raise

    async def warm_up(self) -> None:
        """Open the Prefect client and resolve the deployments before the first event."""
        client = await self._client()
        for route in self.routes.values():
            if isinstance(route, Route):
                name = self.overrides.get(route.deployment, route.deployment)
                self._deployment_ids[name] = (await client.read_deployment_by_name(name)).id

    async def _client(self) -> Any:
        from prefect.client.orchestration import get_client

        if self._prefect is None:
            self._prefect = get_client()
            await self._prefect.__aenter__()
        return self._prefect

    async def aclose(self) -> None:
        if self._prefect is not None:
            client, self._prefect = self._prefect, None
            await client.__aexit__(None, None, None)

    async def sweep(self, older_than: timedelta) -> int:
        """Re-dispatch events that never reached Prefect. Returns how many were handed over."""
        async with self._lock:
            handed = 0
            for event in self.ledger.undispatched(older_than=older_than):
                if event.state != EventState.RECEIVED:
                    continue
                if await self.dispatch(event):
                    handed += 1
            if handed:
                log.info("sweeper handed %d waiting event(s) to Prefect", handed)
            return handed
