"""Start work items again: dead letters after a fix (``hub replay``); automatically, stuck items
whose run died and transient dead letters a while later (``redrive-stuck``).

Replay is idempotent: an item that has meanwhile completed (or is neither failed nor stuck)
is skipped, and every step of every service finds its own earlier writes by external key.
Every start is a new flow run with its own idempotency key (``replay:…:<n>``,
``redrive:…:<n>``), so Prefect never hands back the run that died.

A *stuck* item is ``running`` with an expired ledger lease: the run that held it stopped
renewing (see :mod:`hub.recovery`); or ``waiting`` in a run of its own that has ended (a fritak
case resumed with a decision, killed before it began again: the new run finds that decision).
A stuck item whose run is Suspended in Prefect (killed as it suspended) is not started again:
it becomes ``waiting``, as its run would have left it. A person may replay a stuck item at
once; the automatic re-drive also waits until Prefect shows the run ended (Crashed, Failed,
Cancelled — the zombie automation marks a dead run Crashed) or gone, and gives up after
``HUB_REDRIVE_MAX_ATTEMPTS`` re-drives, making the item a dead letter with its reason.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from hub.ledger import ItemState, Ledger, WorkItem
from hub.ledger.models import utcnow
from hub.prefect_api import READ_LIMIT, read_all_flow_runs
from hub.recovery import RecoveryConfig, find_zombies
from hub.runs import start_deployment_run
from hub.services import Rerun, burst_members, catalog

__all__ = ["ReplayResult", "replay_items", "redrive_stuck", "retry_transient", "next_expiry_of_dead_runs"]

log = logging.getLogger("hub.replay")


@dataclass(frozen=True)
class ReplayResult:
    item_id: int
    service: str
    source_key: str
    outcome: str  # replayed | redriven | retried | dead letter: <why> | skipped: <why> | waiting: <why>
    flow_run_id: str | None = None


class _Starter:
    """Starts the runs of one replay or re-drive pass: one per item, or one per batch service."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.batch_runs: dict[str, str] = {}

    async def start(self, ledger: Ledger, item: WorkItem, route: Rerun, attempt: int,
                    parameters: dict[str, Any] | None = None) -> str:
        if route.per_item:
            run_id = await start_deployment_run(route.deployment, parameters or route.parameters(item),
                                                key=f"{self.prefix}:{item.service}:{item.source_key}:{attempt}")
            await asyncio.to_thread(ledger.set_flow_run, item.id, run_id)
            return run_id
        if route.deployment not in self.batch_runs:
            self.batch_runs[route.deployment] = await start_deployment_run(
                route.deployment, {}, key=f"{self.prefix}:{route.deployment}:{item.id}:{attempt}")
        return self.batch_runs[route.deployment]


async def replay_items(ledger: Ledger, item_ids: list[int]) -> list[ReplayResult]:
    """Replay dead letters, or stuck items (running, but their run died), after a fix."""
    results: list[ReplayResult] = []
    starter = _Starter("replay")
    for item_id in item_ids:
        try:
            item = await asyncio.to_thread(ledger.item, item_id)
        except KeyError:
            results.append(ReplayResult(item_id, "?", "?", "skipped: no such item"))
            continue
        route = catalog().rerun_for(item.service)
        stuck = Ledger.is_stuck(item)
        if item.state != ItemState.FAILED and not stuck:
            why = ("its run is alive (it holds the item's lease)" if item.state == ItemState.RUNNING
                   else "not failed or stuck")
            results.append(ReplayResult(item_id, item.service, item.source_key,
                                        f"skipped: it is {item.state}, {why}"))
            continue
        if route is None:
            results.append(ReplayResult(item_id, item.service, item.source_key,
                                        "skipped: no replay route for this service"))
            continue
        if not await asyncio.to_thread(ledger.reset_for_replay, item_id):
            results.append(ReplayResult(item_id, item.service, item.source_key,
                                        "skipped: another run took it over meanwhile"))
            continue
        replays = int((await asyncio.to_thread(ledger.item, item_id)).data.get("replays", 1))
        run_id = await starter.start(ledger, item, route, replays)
        results.append(ReplayResult(item_id, item.service, item.source_key, "replayed", run_id))
    return results


# ---- automatic re-drive of stuck items ---------------------------------------------------------

def _state_of(run: Any) -> str:
    return run.state.name if run is not None and run.state is not None else "gone"


def _suspended(run: Any) -> bool:
    """Suspended: paused with its process gone, to be started again when resumed (a paused run's
    process would still be waiting in it)."""
    state = run.state if run is not None else None
    return state is not None and state.is_paused() and bool(state.state_details.pause_reschedule)


def _ended(run: Any) -> bool:
    return run is None or (run.state is not None and run.state.is_final())


async def _runs_by_id(client: Any, ids: list[str]) -> dict[str, Any]:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    runs: dict[str, Any] = {}
    for start in range(0, len(ids), READ_LIMIT):  # a backlog's waiting items have runs by the thousand
        chunk = ids[start:start + READ_LIMIT]
        page = await client.read_flow_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)),
                                           limit=len(chunk))
        runs.update({str(r.id): r for r in page})
    return runs


async def _crash(client: Any, run: Any, why: str) -> None:
    """Mark a run Crashed that Prefect still shows running long after its process died (the
    zombie automation missed it: the process died before its first heartbeat, or heartbeats
    are off). That frees its deployment slot, as the automation would have."""
    from prefect.states import Crashed

    try:
        await client.set_flow_run_state(run.id, Crashed(message=why))
    except Exception as exc:
        log.warning("could not mark flow run %s Crashed: %s", run.id, exc)


async def redrive_stuck(ledger: Ledger, config: RecoveryConfig | None = None, *, client: Any = None,
                        now: datetime | None = None) -> list[ReplayResult]:
    """One pass: end runs Prefect still shows alive though they are dead; start every stuck item
    whose run has ended again, and every item whose run died before it started on it; make
    an item a dead letter after ``config.redrive_max`` re-drives. A few Prefect queries."""
    from prefect.client.orchestration import get_client

    if client is None:
        async with get_client() as fresh:
            return await redrive_stuck(ledger, config, client=fresh, now=now)
    config = config or RecoveryConfig.from_env()
    now = now or utcnow()
    _, zombies = await find_zombies(client, config, now)
    for run in zombies:  # the automation's job; here when it missed one (died before a heartbeat)
        await _crash(client, run, f"No heartbeat for {int(config.zombie_after.total_seconds())} s "
                                  f"({run.state.name if run.state else '?'}): the flow-run process is gone "
                                  "(found by redrive-stuck).")
    stuck = await asyncio.to_thread(ledger.stuck_items, now=now)
    waiting = [i for i in await asyncio.to_thread(ledger.items, states=[ItemState.WAITING], limit=None)
               if i.flow_run_id and (route := catalog().rerun_for(i.service)) is not None and route.per_item]
    runs = await _runs_by_id(client, sorted({i.flow_run_id for i in [*stuck, *waiting] if i.flow_run_id}))
    # A waiting item whose own run has ended waits in vain: its run was resumed (a case
    # handler's decision given) and died before it began again. It is re-driven like a stuck one.
    orphans = {i.id for i in waiting if _ended(runs.get(i.flow_run_id or ""))}
    stuck += [i for i in waiting if i.id in orphans]
    # The zombie automation normally ends a dead run within its window; a run still shown
    # running this long after its item's lease expired died unseen.
    unseen_after = config.zombie_after + timedelta(seconds=30)
    starter = _Starter("redrive")
    results: list[ReplayResult] = []
    for item in stuck:
        run = runs.get(item.flow_run_id or "")
        state = _state_of(run)
        expired_for = now - (item.lease_until or item.updated_at)
        if run is not None and _suspended(run):
            # Suspended (a fritak case asking its case handler): Prefect took the suspension and
            # the process, which exits when it suspends, died before it marked the item waiting.
            # The question stands; resuming the run picks the item up. Nothing to start again.
            done = await asyncio.to_thread(
                ledger.wait_stuck, item.id, now=now,
                reason=f"its flow run {run.name} is {state} in Prefect, waiting for input (recorded by "
                       "redrive-stuck: the run's process ended as it suspended)")
            results.append(ReplayResult(item.id, item.service, item.source_key,
                                        f"waiting: its run {run.name} is {state}; the item waits with it"
                                        if done else "skipped: taken over meanwhile", item.flow_run_id))
            continue
        if run is not None and not _ended(run):
            if expired_for < unseen_after:
                results.append(ReplayResult(item.id, item.service, item.source_key,
                                            f"waiting: its run {run.name} is still {state} in Prefect; "
                                            "the zombie automation ends it first", item.flow_run_id))
                continue
            why = (f"its work item's lease expired {int(expired_for.total_seconds())} s ago and no "
                   "heartbeat ended it: the process is gone")
            await _crash(client, run, why)
            state = "Crashed"
        route = catalog().rerun_for(item.service)
        redrives = int((item.data or {}).get("redrives", 0))
        what = f"flow run {run.name} ({run.id}) ended {state}" if run is not None else (
            f"flow run {item.flow_run_id} no longer exists" if item.flow_run_id else "no flow run is recorded")
        if route is None or redrives >= config.redrive_max:
            reason = (f"its run died and the hub has no route to start {item.service} again" if route is None
                      else f"its run died {redrives + 1} times; the last, {what}")
            error = (f"{reason}. The hub stopped re-driving it: look at that run's logs in the Prefect UI, "
                     f"fix the cause, then `hub replay {item.id}`.")
            done = await asyncio.to_thread(ledger.dead_letter_stuck, item.id, error=error, now=now,
                                           waiting=item.id in orphans)
            results.append(ReplayResult(item.id, item.service, item.source_key,
                                        "dead letter: " + reason if done else "skipped: taken over meanwhile"))
            continue
        if not await asyncio.to_thread(ledger.reset_for_redrive, item.id, reason=what, now=now,
                                       waiting=item.id in orphans):
            results.append(ReplayResult(item.id, item.service, item.source_key, "skipped: taken over meanwhile"))
            continue
        started = time.monotonic()
        run_id = await starter.start(ledger, item, route, redrives + 1)
        log.warning("%s %s re-driven (%d of %d): %s; new flow run %s (started in %.1f s)", item.service,
                    item.source_key, redrives + 1, config.redrive_max, what, run_id, time.monotonic() - started)
        results.append(ReplayResult(item.id, item.service, item.source_key, "redriven", run_id))
    for service, route in catalog().reruns().items():
        if route.per_item:
            results += await _redrive_unstarted(ledger, client, config, service, route, now)
    return results


async def retry_transient(ledger: Ledger, config: RecoveryConfig | None = None, *,
                          now: datetime | None = None) -> list[ReplayResult]:
    """Start transient dead letters again, later: a peer that was down for longer than a
    task's retries (seconds) is most likely back after minutes. The n-th automatic retry of an
    item comes ``config.retry_after[n]`` after it last failed; after the last one it stays a
    dead letter for a person (``hub replay``). Other kinds (bad data, configuration, a crash)
    are never retried blindly."""
    config = config or RecoveryConfig.from_env()
    now = now or utcnow()
    starter = _Starter("retry")
    results: list[ReplayResult] = []
    for item in await asyncio.to_thread(ledger.dead_letters, kind="transient"):
        route = catalog().rerun_for(item.service)
        retries = int((item.data or {}).get("auto_retries", 0))
        if route is None or retries >= len(config.retry_after) or now - item.updated_at < config.retry_after[retries]:
            continue
        if not await asyncio.to_thread(ledger.reset_for_retry, item.id):
            results.append(ReplayResult(item.id, item.service, item.source_key, "skipped: taken over meanwhile"))
            continue
        run_id = await starter.start(ledger, item, route, retries + 1)
        log.warning("%s %s: transient dead letter retried (%d of %d): %s; flow run %s", item.service,
                    item.source_key, retries + 1, len(config.retry_after), item.last_error, run_id)
        results.append(ReplayResult(item.id, item.service, item.source_key, "retried", run_id))
    return results


# An item reset a moment ago is getting its new run: leave it alone for this long.
UNTOUCHED = timedelta(seconds=30)


def _item_key(route: Rerun, given: object) -> str:
    """A run parameter as the service keys its item (``key_type``: e.g. onboarding's
    ``"05001234"`` is item ``"5001234"``); as given if it does not convert."""
    text = str(given).strip()
    try:
        return str(route.key_type(text)) if text else ""
    except (TypeError, ValueError):
        return text


async def _redrive_unstarted(ledger: Ledger, client: Any, config: RecoveryConfig, service: str, route: Rerun,
                             now: datetime) -> list[ReplayResult]:
    """Items of a one-run-per-item service whose run died before it claimed them: the item is
    missing (the run died before creating it) or ``pending`` and pointing at no live run.
    Started again with the dead run's parameters; bounded like stuck items."""
    from prefect.client.schemas.filters import (
        DeploymentFilter,
        DeploymentFilterName,
        FlowRunFilter,
        FlowRunFilterExpectedStartTime,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    crashed = await read_all_flow_runs(
        client,
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.CRASHED])),
            expected_start_time=FlowRunFilterExpectedStartTime(after_=now - timedelta(days=1))),
        deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[route.deployment.split("/")[1]])),
        sort=FlowRunSort.EXPECTED_START_TIME_DESC)
    deaths: dict[str, list[tuple[Any, dict[str, Any]]]] = {}
    for run in crashed:  # newest first
        for given in burst_members(run.parameters or {}):  # a burst's run died for each of its events
            key = _item_key(route, given.get(route.key_parameter, ""))
            if key:
                deaths.setdefault(key, []).append((run, given))
    results: list[ReplayResult] = []
    for key, runs in deaths.items():
        last, given = runs[0]
        item = await asyncio.to_thread(ledger.get_item, service, key)
        dead_ids = {str(r.id) for r, _ in runs}
        if item is not None and (item.state != ItemState.PENDING
                                 or (item.flow_run_id is not None and item.flow_run_id not in dead_ids)
                                 or now - item.updated_at < UNTOUCHED):
            continue  # started, stuck (handled above), just reset by a replay or re-drive, or in other hands
        what = f"flow run {last.name} ({last.id}) died before it started on the item ({_state_of(last)})"
        redrives = int((item.data or {}).get("redrives", 0)) if item is not None else len(runs) - 1
        if redrives >= config.redrive_max:
            if item is None:
                item = await asyncio.to_thread(ledger.ensure_item, service, key, title=f"{service} {key}")
            error = (f"its run died {redrives + 1} times before it could start; the last, {what}. The hub "
                     f"stopped re-driving it: look at the runs' logs in the Prefect UI, fix the cause, then "
                     f"`hub replay {item.id}`.")
            owner = f"redrive-{last.id}"
            if await asyncio.to_thread(ledger.claim, item.id, owner, timedelta(seconds=30)):
                await asyncio.to_thread(ledger.finish_item, item.id, ItemState.FAILED, error=error,
                                        error_kind="crash")
                await asyncio.to_thread(ledger.release, item.id, owner)
                results.append(ReplayResult(item.id, service, key, "dead letter: " + error.split(". ")[0]))
            continue
        parameters = dict(given)
        if item is None:  # the dead run's own parameters (e.g. the event, for the lead time)
            run_id = await start_deployment_run(route.deployment, parameters, key=f"redrive:{last.id}:{key}")
            results.append(ReplayResult(0, service, key, "redriven", run_id))
        else:
            await asyncio.to_thread(ledger.update_data, item.id, redrives=redrives + 1, redriven_because=what)
            run_id = await _Starter("redrive").start(ledger, item, route, redrives + 1, parameters)
            results.append(ReplayResult(item.id, service, key, "redriven", run_id))
        log.warning("%s %s re-driven: %s; new flow run %s", service, key, what, run_id)
    return results


async def next_expiry_of_dead_runs(ledger: Ledger, *, client: Any = None,
                                   now: datetime | None = None) -> datetime | None:
    """When the last lease expires of the ``running`` items whose run has already ended (a run
    Crashed a moment ago still holds its item until the lease runs out) or is Suspended (killed
    as it suspended, beside the runs that Crashed); None if there are none.
    ``redrive-stuck``, started by a Crashed run, waits until then and looks again."""
    from prefect.client.orchestration import get_client

    if client is None:
        async with get_client() as fresh:
            return await next_expiry_of_dead_runs(ledger, client=fresh, now=now)
    now = now or utcnow()
    leased = [i for i in await asyncio.to_thread(ledger.items, states=[ItemState.RUNNING], limit=None)
              if i.lease_until is not None and i.lease_until >= now and i.flow_run_id]
    runs = await _runs_by_id(client, sorted({i.flow_run_id for i in leased if i.flow_run_id}))
    ends = [i.lease_until for i in leased if i.lease_until is not None
            and (run := runs.get(i.flow_run_id or "")) is not None and (_ended(run) or _suspended(run))]
    return max(ends) if ends else None
