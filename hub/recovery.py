"""Dead flow runs, found and cleared without a person.

A flow-run process can die at any moment (``kill -9``, out of memory, a lost host). Three
things then happen by themselves:

1. **Prefect marks the run Crashed.** Every flow run sends a heartbeat event
   (``PREFECT_FLOWS_HEARTBEAT_FREQUENCY``, at least 30 s). The automation
   ``detect zombie flow runs`` (created by the runner at start-up, :func:`ensure_zombie_automation`)
   expects, per flow run, another heartbeat or an end (Completed, Failed, Cancelled,
   Crashed, or a pause) within ``HUB_ZOMBIE_AFTER_SECONDS`` (default three heartbeats) of
   the last heartbeat; when none comes it moves the run to Crashed, which frees its
   deployment concurrency slot. A run that never started sends no heartbeat: one left
   ``Pending``/``Submitting`` (its runner or worker was killed while starting its process) is
   marked Crashed by the automation ``detect flow runs that never started`` when no
   ``Running``, heartbeat or end follows within ``pending_after`` (the zombie window + 30 s).
   Without it such a run kept its deployment's concurrency slot for Prefect's 300 s lease:
   a one-at-a-time deployment (``redrive-stuck``, the polls) was stopped that long.
2. **Its global slots come back.** They are leases (:mod:`hub.limits`): nobody renews them.
3. **Its work item is re-driven.** A live run renews its ledger lease every third of
   ``HUB_ITEM_LEASE_SECONDS``; an item ``running`` whose lease expired and whose run ended
   is *stuck*. The ``redrive-stuck`` flow (on every Crashed run, and every two minutes)
   starts it again, at most ``HUB_REDRIVE_MAX_ATTEMPTS`` times, then makes it a dead letter
   (:func:`hub.replay.redrive_stuck`).

:func:`check_liveness` is what ``hub status`` and ``connector-health`` show: stuck items,
zombie runs (running with no heartbeat for longer than the zombie window) and global slots
held while nothing runs — with two or three cheap API calls.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from hub.ledger import Ledger, WorkItem
from hub.ledger.models import utcnow
from hub.prefect_api import read_all_flow_runs

__all__ = ["RecoveryConfig", "item_lease", "ZOMBIE_AUTOMATION", "PENDING_AUTOMATION", "zombie_automation",
           "pending_automation", "ensure_zombie_automation", "Liveness", "find_zombies", "check_liveness"]

log = logging.getLogger("hub.recovery")

ZOMBIE_AUTOMATION = "detect zombie flow runs"
PENDING_AUTOMATION = "detect flow runs that never started"
# Events that show a flow run is alive or has ended (a suspended run has no process, and
# sends no heartbeat until it is resumed).
_ALIVE_OR_ENDED = ("prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
                   "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed", "prefect.flow-run.Paused",
                   "prefect.flow-run.Suspended", "prefect.flow-run.AwaitingRetry")
# Events that show a run being started got going or ended (a pending run that is cancelled,
# sent back to wait for a concurrency slot or rescheduled is not dead either). Not those that
# only come after another of these: a heartbeat, Paused or Suspended after Running (Prefect
# refuses to pause or suspend a run that is not running), Late after Scheduled. Prefect's
# trigger service stores every event such a trigger expects, for a window that may open later
# (a database write per event and trigger): a backlog's fritak case runs, created already
# suspended by the hundred, each cost one more.
_STARTED_OR_LEFT_PENDING = ("prefect.flow-run.Running", "prefect.flow-run.Completed",
                            "prefect.flow-run.Failed", "prefect.flow-run.Cancelled", "prefect.flow-run.Cancelling",
                            "prefect.flow-run.Crashed", "prefect.flow-run.Scheduled",
                            "prefect.flow-run.AwaitingConcurrencySlot", "prefect.flow-run.AwaitingRetry")
PENDING_GRACE = timedelta(seconds=30)  # a process starting on a busy host may take a while
MIN_PROACTIVE_WITHIN = timedelta(seconds=10)  # Prefect 3.9 refuses a shorter proactive window


def _seconds(env: Mapping[str, str], name: str, default: float) -> timedelta:
    raw = env.get(name)
    try:
        return timedelta(seconds=float(raw)) if raw else timedelta(seconds=default)
    except ValueError as exc:
        raise ValueError(f"{name}={raw!r} is not a number of seconds") from exc


def _prefect_heartbeat() -> timedelta | None:
    from prefect.settings import get_current_settings

    seconds = get_current_settings().flows.heartbeat_frequency
    return timedelta(seconds=seconds) if seconds else None


@dataclass(frozen=True)
class RecoveryConfig:
    """How fast dead runs are found and their items re-driven (all from the environment)."""

    heartbeat: timedelta | None  # PREFECT_FLOWS_HEARTBEAT_FREQUENCY; None: heartbeats are off
    zombie_after: timedelta  # HUB_ZOMBIE_AFTER_SECONDS: no heartbeat for this long → Crashed
    item_lease: timedelta  # HUB_ITEM_LEASE_SECONDS: a work item's ledger lease, renewed at 1/3
    redrive_max: int  # HUB_REDRIVE_MAX_ATTEMPTS: automatic re-drives before a dead letter
    # HUB_RETRY_TRANSIENT_AFTER: a transient dead letter (a peer down for longer than a task's
    # retries) is started again this long after it failed, once per entry; "off" for never.
    retry_after: tuple[timedelta, ...] = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))

    @property
    def pending_after(self) -> timedelta:
        """A run Pending (its process being started) this long never started: Crashed."""
        return self.zombie_after + PENDING_GRACE

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RecoveryConfig:
        env = os.environ if env is None else env
        heartbeat = _prefect_heartbeat()
        periods = heartbeat.total_seconds() if heartbeat else 30.0
        zombie_after = _seconds(env, "HUB_ZOMBIE_AFTER_SECONDS", 3 * periods)
        if zombie_after < MIN_PROACTIVE_WITHIN:
            raise ValueError(f"HUB_ZOMBIE_AFTER_SECONDS must be at least {MIN_PROACTIVE_WITHIN.seconds} s "
                             "(Prefect's minimum for a proactive trigger)")
        if heartbeat and zombie_after < heartbeat + timedelta(seconds=5):
            raise ValueError(f"HUB_ZOMBIE_AFTER_SECONDS ({zombie_after.total_seconds():g} s) must exceed the "
                             f"heartbeat period ({heartbeat.total_seconds():g} s) by some seconds, or live "
                             "runs are marked Crashed")
        redrive_max = int(env.get("HUB_REDRIVE_MAX_ATTEMPTS") or 3)
        return cls(heartbeat=heartbeat, zombie_after=zombie_after, item_lease=item_lease(env),
                   redrive_max=max(0, redrive_max), retry_after=retry_after(env))


def retry_after(env: Mapping[str, str] | None = None) -> tuple[timedelta, ...]:
    """``HUB_RETRY_TRANSIENT_AFTER``: seconds after a transient dead letter failed that it is
    started again, one per automatic retry (``300,1800,7200``); ``off`` for no retries."""
    raw = (os.environ if env is None else env).get("HUB_RETRY_TRANSIENT_AFTER", "").strip()
    if not raw:
        return RecoveryConfig.retry_after
    if raw.lower() in ("off", "none", "0"):
        return ()
    try:
        delays = tuple(timedelta(seconds=float(part)) for part in raw.split(","))
    except ValueError:
        raise ValueError(f"HUB_RETRY_TRANSIENT_AFTER must be seconds separated by commas (e.g. 300,1800,7200) "
                         f"or 'off', not {raw!r}") from None
    if any(d < timedelta(0) for d in delays):
        raise ValueError("HUB_RETRY_TRANSIENT_AFTER: a delay cannot be negative")
    return delays


def item_lease(env: Mapping[str, str] | None = None) -> timedelta:
    """How long a work item's claim lasts without renewal (``HUB_ITEM_LEASE_SECONDS``, 60 s)."""
    lease = _seconds(os.environ if env is None else env, "HUB_ITEM_LEASE_SECONDS", 60)
    if lease < timedelta(seconds=5):
        raise ValueError("HUB_ITEM_LEASE_SECONDS must be at least 5 s")
    return lease


# ---- the zombie automation -----------------------------------------------------------------

def zombie_automation(config: RecoveryConfig) -> Any:
    """The automation that moves a flow run that stopped sending heartbeats to Crashed."""
    window = int(config.zombie_after.total_seconds())
    return _crash_when_silent(
        ZOMBIE_AUTOMATION, after={"prefect.flow-run.heartbeat"}, expect=_ALIVE_OR_ENDED, within=config.zombie_after,
        description=f"A flow run that sent no heartbeat for {window} s is dead (its process was killed or "
                    "its host lost): mark it Crashed, which frees its deployment concurrency slot.",
        message=f"No heartbeat for {window} s: the flow-run process died. The hub re-drives its work "
                "item (see `hub items --state running`).")


def pending_automation(config: RecoveryConfig) -> Any:
    """The automation that moves a flow run left Pending (its runner or worker died while
    starting its process) to Crashed: no heartbeat ever comes for the zombie automation."""
    window = int(config.pending_after.total_seconds())
    return _crash_when_silent(
        PENDING_AUTOMATION, after={"prefect.flow-run.Pending", "prefect.flow-run.Submitting"},
        expect=_STARTED_OR_LEFT_PENDING, within=config.pending_after,
        description=f"A flow run still Pending {window} s after it was handed to a process never started "
                    "(its runner or worker was killed while starting it): mark it Crashed, which frees its "
                    "deployment concurrency slot at once instead of after Prefect's 300 s lease.",
        message=f"Still Pending after {window} s: its process never started (the runner or worker "
                "starting it died). The hub re-drives its work item (see `hub items --state pending`).")


def _crash_when_silent(name: str, *, after: set[str], expect: tuple[str, ...], within: timedelta,
                       description: str, message: str) -> Any:
    """Per flow run: after one of ``after``, expect one of ``expect`` within ``within``; else Crashed."""
    from prefect.client.schemas.objects import StateType
    from prefect.events.actions import ChangeFlowRunState
    from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture

    return AutomationCore(
        name=name, enabled=True,
        description=description + " The hub's redrive-stuck flow then starts its work item again. Created by "
                                  "the hub runner at start-up (hub/recovery.py).",
        trigger=EventTrigger(match={"prefect.resource.id": "prefect.flow-run.*"}, after=after, expect=set(expect),
                             for_each={"prefect.resource.id"}, posture=Posture.Proactive, threshold=1,
                             within=within),
        actions=[ChangeFlowRunState(state=StateType.CRASHED, name="Crashed", message=message)],
    )


def _shape(automation: Any) -> tuple[Any, ...]:
    """What makes two zombie automations the same (trigger ids and set order aside)."""
    t = automation.trigger
    return (automation.enabled, automation.description, t.posture, t.within, t.threshold,
            sorted(t.after), sorted(t.expect), sorted(t.for_each),
            t.match.model_dump(mode="json"),
            [a.model_dump(mode="json") for a in automation.actions])


async def ensure_zombie_automation(client: Any, config: RecoveryConfig | None = None) -> str:
    """Create or update the automations that end dead runs (no heartbeat; never started);
    idempotent. Returns each one's outcome: created | updated | unchanged | off (the zombie
    automation when heartbeats are disabled), as ``zombie: unchanged, pending: created``.

    An unchanged automation is left alone, and an update keeps the trigger's id: Prefect keys
    each run's open window by trigger id, so a runner restarted right after a crash (the
    normal case) still sees the dead runs of the crash through.
    """
    config = config or RecoveryConfig.from_env()
    outcomes = {"zombie": "off", "pending": await _ensure(client, pending_automation(config))}
    if config.heartbeat is None:
        log.warning("PREFECT_FLOWS_HEARTBEAT_FREQUENCY is off: a run that dies while running will not be "
                    "marked Crashed (one that never started still is)")
    else:
        outcomes["zombie"] = await _ensure(client, zombie_automation(config))
    return ", ".join(f"{name}: {outcome}" for name, outcome in outcomes.items())


async def _ensure(client: Any, desired: Any) -> str:
    existing = await client.read_automations_by_name(desired.name)
    for extra in existing[1:]:
        await client.delete_automation(extra.id)
    if not existing:
        await client.create_automation(desired)
        return "created"
    current = existing[0]
    if _shape(current) == _shape(desired):
        return "unchanged"
    desired.trigger.id = current.trigger.id
    await client.update_automation(current.id, desired)
    return "updated"


# ---- what operators see ----------------------------------------------------------------------

@dataclass
class Liveness:
    """Dead runs and what they left behind, as ``hub status`` and ``connector-health`` show it."""

    stuck_items: list[WorkItem] = field(default_factory=list)
    zombie_runs: list[str] = field(default_factory=list)  # "name (id)"
    held_slots: list[str] = field(default_factory=list)  # "ticketing: 1 of 2 held"
    running: int = 0
    error: str | None = None  # Prefect could not be asked

    @property
    def ok(self) -> bool:
        return not (self.stuck_items or self.zombie_runs or self.held_slots)

    def problems(self) -> list[str]:
        lines = []
        if self.stuck_items:
            keys = ", ".join(f"{i.service}/{i.source_key} (#{i.id})" for i in self.stuck_items[:5])
            more = f" and {len(self.stuck_items) - 5} more" if len(self.stuck_items) > 5 else ""
            lines.append(f"{len(self.stuck_items)} stuck item(s): running, but their run died ({keys}{more}). "
                         "redrive-stuck re-drives them; or `hub replay ID`.")
        if self.zombie_runs:
            lines.append(f"{len(self.zombie_runs)} zombie run(s) with no heartbeat: "
                         f"{', '.join(self.zombie_runs[:5])}. Is the zombie automation there (restart the runner)?")
        if self.held_slots:
            lines.append(f"global slots held while nothing runs: {'; '.join(self.held_slots)}. "
                         "They come back when their lease expires (about a minute).")
        return lines


async def find_zombies(client: Any, config: RecoveryConfig, now: datetime | None = None
                       ) -> tuple[list[Any], list[Any]]:
    """Flow runs Prefect shows alive, and those of them that are dead: running with no heartbeat
    within the zombie window, or pending (a process was starting) for longer than the window.

    The runs read in pages (a backlog has more than one read's 200); one events query only when a run has been running longer than
    the window (a younger run cannot have missed it)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType
    from prefect.events.filters import EventFilter, EventNameFilter, EventOccurredFilter, EventResourceFilter

    now = now or utcnow()
    runs = await read_all_flow_runs(client, flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
        type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING]))))
    cutoff = now - config.zombie_after
    pending_cutoff = now - config.pending_after

    def since(run: Any) -> datetime:
        return run.state.timestamp if run.state is not None and run.state.timestamp else now

    zombies = [r for r in runs if r.state is not None and r.state.type == StateType.PENDING
               and since(r) < pending_cutoff]
    old = {f"prefect.flow-run.{r.id}": r for r in runs
           if r.state is not None and r.state.type == StateType.RUNNING and since(r) < cutoff}
    if old and config.heartbeat is not None:
        alive: set[str] = set()
        ids = list(old)
        for start in range(0, len(ids), 50):  # the events API answers at most 50 per page
            chunk = ids[start:start + 50]
            page = await client.read_events(filter=EventFilter(
                occurred=EventOccurredFilter(since=cutoff, until=now + timedelta(minutes=1)),
                event=EventNameFilter(name=["prefect.flow-run.heartbeat"]),
                resource=EventResourceFilter(id=chunk, distinct=True)), limit=len(chunk))
            alive |= {e.resource.id for e in page.events}
        zombies += [run for rid, run in old.items() if rid not in alive]
    return list(runs), zombies


async def check_liveness(ledger: Ledger, config: RecoveryConfig | None = None, *, client: Any = None,
                         now: datetime | None = None, limit_names: tuple[str, ...] | None = None) -> Liveness:
    """Stuck items (ledger), zombie runs and orphaned global slots (Prefect: the running and
    pending runs and the global limits, plus one events query only when a run has been
    running longer than the zombie window)."""
    from prefect.client.orchestration import get_client

    if client is None:
        async with get_client() as fresh:
            return await check_liveness(ledger, config, client=fresh, now=now, limit_names=limit_names)
    from hub.services import catalog

    config = config or RecoveryConfig.from_env()
    now = now or utcnow()
    result = Liveness(stuck_items=await asyncio.to_thread(ledger.stuck_items, now=now, limit=50))
    try:
        runs, zombies = await find_zombies(client, config, now)
        limits = await client.read_global_concurrency_limits(limit=100)
    except Exception as exc:  # status reports; it never fails because Prefect is down
        result.error = f"{exc.__class__.__name__}: {exc}"[:200]
        return result
    result.running = len(runs)
    result.zombie_runs = [f"{r.name} ({r.id}, {r.state.name if r.state else '?'})" for r in zombies]
    live = len(runs) - len(zombies)
    names = limit_names or tuple(catalog().limits())
    if live == 0:
        result.held_slots = [f"{lim.name}: {lim.active_slots} of {lim.limit} held" for lim in limits
                             if lim.name in names and lim.active_slots > 0]
    return result
