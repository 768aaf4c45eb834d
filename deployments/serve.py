"""``python -m deployments``: register and serve every deployment (the hub's worker).

It upserts the global concurrency limits and the automation that marks dead flow runs
Crashed ("detect zombie flow runs", :mod:`hub.recovery`), registers each deployment in
:mod:`deployments.definitions` with a Prefect ``Runner`` and executes their runs.

Start-up latency, measured on a 2-core machine:

- Prefect's runner starts each flow run in a *spawned* interpreter, which re-imports
  Prefect and the flow (2–3 s). The hub swaps that spawn for a fork server with Prefect,
  the flows and the connectors preloaded. Each run still gets its own process.
- Polling the API fast enough to start runs promptly (every 0.25 s) makes the SQLite
  server busy: every poll is a write, and colliding writes answer 503, which Prefect's
  client retries after 2 s. So the runner polls slowly (``HUB_RUNNER_POLL``, 2 s) and is
  *woken* by Prefect's own ``prefect.flow-run.Scheduled`` events, which arrive over the
  events websocket before the API call that created the run has returned.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
import multiprocessing
import os
from collections.abc import Awaitable, Callable
from typing import Any

from prefect.client.orchestration import get_client
from prefect.runner import Runner

from deployments.catalog import CATALOG
from deployments.definitions import DEPLOYMENTS, PRELOAD

__all__ = ["use_preloaded_fork_server", "remember_run_settings", "wait_for_prefect", "ensure_limits",
           "ensure_recovery", "serve", "wake_on_scheduled_runs"]

log = logging.getLogger("hub.serve")


class _PreloadedContext:
    """``multiprocessing`` as Prefect's flow engine sees it: "spawn" means our fork server."""

    def __init__(self, preload: tuple[str, ...]) -> None:
        self._ctx = multiprocessing.get_context("forkserver")
        # Last: with everything imported, build what every run's process would build first.
        self._ctx.set_forkserver_preload(["prefect", "prefect.flow_engine", *preload, "deployments.fork_server_warmup"])

    def get_context(self, method: str | None = None) -> Any:
        return self._ctx if method == "spawn" else multiprocessing.get_context(method)

    def __getattr__(self, name: str) -> Any:
        return getattr(multiprocessing, name)


def use_preloaded_fork_server(preload: tuple[str, ...] = PRELOAD) -> None:
    """Start flow runs from a fork server that has ``preload`` and the ledger's database driver
    imported, and work out the settings a run's process is given once per process."""
    from multiprocessing import forkserver

    import prefect.flow_engine as engine

    from hub.ledger.store import driver_modules
    from hub.settings import get_settings

    context = _PreloadedContext((*preload, *driver_modules(get_settings().ledger)))
    engine.multiprocessing = context  # type: ignore[assignment,attr-defined]
    remember_run_settings()
    forkserver.ensure_running()  # import everything now, not when the first hire arrives
    _wait_until_warm(context.get_context("spawn"))


def _wait_until_warm(spawn: Any) -> None:
    """Return once the fork server has imported and built everything it preloads.

    It takes requests only after that, so one empty process started through it waits for the
    warm-up. A runner or worker then goes online (and takes its first run) warm: the first hire
    after a worker started waited ~3 s for the warm-up (4.6 s from HR's event to the flow's
    code, against 1.3 s for the others; bench/onboarding_latency --workers 3)."""
    import time

    started = time.monotonic()
    probe = spawn.Process(target=int, name="fork server warm-up")  # int(): does nothing, picklable
    try:
        probe.start()
        probe.join(timeout=300)
    except Exception as exc:  # noqa: BLE001 - only a wait: each run asks the fork server again
        log.warning("the fork server did not start an empty process (%s: %s); runs start it again",
                    type(exc).__name__, exc)
        return
    log.info("fork server ready in %.1f s (preloaded and warmed up)", time.monotonic() - started)


_REMEMBERED: dict[tuple[Any, ...], tuple[Any, Any]] = {}


def remember_run_settings() -> None:
    """Prefect turns the whole settings tree into environment variables twice for every run it
    starts (the job's environment, then the run's process), by dumping each nested model again,
    and serialises the settings context once more for the run's process: ~0.35 s of the
    runner's or worker's CPU per run, on the way to the run's first line, and an HR event starts
    two runs. Neither object changes (Prefect makes new ones for new settings), so each answer
    is kept per object and handed out as a copy."""
    from prefect.context import SettingsContext
    from prefect.settings.models.root import Settings

    _remember_per_object(Settings, "to_environment_variables")
    _remember_per_object(SettingsContext, "serialize")


def _remember_per_object(cls: type, name: str) -> None:
    work_out = getattr(cls, name)
    if getattr(work_out, "remembered", False):
        return

    def remembered(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = (cls, name, id(self), args, tuple(sorted(kwargs.items())))
        kept = _REMEMBERED.get(key)
        if kept is None or kept[0] is not self:  # the object is held, so its id is not reused
            if len(_REMEMBERED) > 32:  # objects of temporary_settings() blocks
                _REMEMBERED.clear()
            kept = _REMEMBERED[key] = (self, work_out(self, *args, **kwargs))
        return copy.deepcopy(kept[1])

    functools.update_wrapper(remembered, work_out)
    remembered.remembered = True  # type: ignore[attr-defined]
    setattr(cls, name, remembered)


async def ensure_limits() -> None:
    """The catalog's global concurrency limits, with the slots ``HUB_LIMITS`` sets."""
    from hub.settings import get_settings

    async with get_client() as client:
        for name, slots in CATALOG.limits(get_settings().limits).items():
            await client.upsert_global_concurrency_limit_by_name(name, slots)


async def ensure_recovery() -> str:
    """The automations that mark dead runs Crashed: no heartbeat, or never started (idempotent)."""
    from hub.recovery import RecoveryConfig, ensure_zombie_automation

    config = RecoveryConfig.from_env()
    async with get_client() as client:
        outcome = await ensure_zombie_automation(client, config)
    log.info("dead-run automations: %s (heartbeat %s, zombie window %s, pending window %s)", outcome,
             config.heartbeat, config.zombie_after, config.pending_after)
    return outcome


async def wake_on_scheduled_runs(look: Callable[[], Awaitable[object]],
                                 running: Callable[[], bool] = lambda: True) -> None:
    """Call ``look`` (a runner's or worker's own poll step) as soon as Prefect announces a
    scheduled run, while ``running()``. The poll itself stays as it is, for a missed event.

    Announcements that arrive while a look is under way make one more look, not one each: the
    scheduler announces a deployment's future runs in a batch (up to 100 at a time)."""
    from prefect.events.clients import get_events_subscriber
    from prefect.events.filters import EventFilter, EventNameFilter

    announced = asyncio.Event()

    async def looker() -> None:
        while True:
            await announced.wait()
            announced.clear()
            try:
                await look()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the poll step failing once is the poll's business
                log.warning("looking for runs on an announcement failed (%s)", exc)

    looking = asyncio.create_task(looker())
    wanted = EventFilter(event=EventNameFilter(name=["prefect.flow-run.Scheduled"]))
    try:
        while running():
            try:
                async with get_events_subscriber(filter=wanted) as events:
                    async for _ in events:
                        announced.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the slow poll still runs; reconnect shortly
                log.warning("event subscription lost (%s); reconnecting in 2 s", exc)
                await asyncio.sleep(2)
    finally:
        looking.cancel()


async def _wake_runner(runner: Runner) -> None:
    while not runner.started:  # noqa: ASYNC110 - the runner exposes no "started" event
        await asyncio.sleep(0.05)
    # The runner's own poll step; it skips runs it is already submitting.
    await wake_on_scheduled_runs(runner._get_and_submit_flow_runs, lambda: bool(runner.started))


async def wait_for_prefect(max_wait: float | None = None) -> None:
    """Wait until the Prefect server answers its health check (it may be restarting too: after
    a host reboot, or killed at the same moment as the runner). Prefect's client does not retry
    a refused first connection, so without this the runner would exit and be restarted in a
    loop until its supervisor gave up."""
    import time

    import httpx
    from prefect.settings import PREFECT_API_URL

    url = f"{PREFECT_API_URL.value()}/health"
    started = time.monotonic()
    delay, said = 0.5, 0.0
    while True:
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                if (await client.get(url)).status_code == 200:
                    return
        except httpx.HTTPError:
            pass
        waited = time.monotonic() - started
        if max_wait is not None and waited > max_wait:
            raise RuntimeError(f"the Prefect server at {url} did not answer for {waited:.0f} s")
        if waited - said >= 30 or said == 0:
            print(f"hub runner: waiting for the Prefect server at {url} ({waited:.0f} s so far)", flush=True)
            said = max(waited, 1e-9)
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


async def serve(poll_seconds: float | None = None, limit: int | None = None) -> None:
    poll = poll_seconds if poll_seconds is not None else float(os.environ.get("HUB_RUNNER_POLL", "2"))
    await wait_for_prefect()  # first: the fork server checks the server's version for every run
    if os.environ.get("HUB_RUNNER_FORKSERVER", "1") == "1":
        use_preloaded_fork_server()
    from hub.wiring import get_ledger

    get_ledger(migrate=True)  # flow runs open the ledger without migrating
    await ensure_limits()
    await ensure_recovery()
    runner = Runner(name="hub-runner", query_seconds=poll,
                    limit=limit or int(os.environ.get("HUB_RUNNER_LIMIT", "16")))
    # Tests start runs themselves, deterministically; they pause the schedules (still listed).
    paused = os.environ.get("HUB_PAUSE_SCHEDULES") == "1"
    for spec in DEPLOYMENTS:
        await runner.aadd_flow(
            spec.flow, name=spec.name, description=spec.description,
            paused=(paused and bool(spec.schedules)) or None,
            schedules=list(spec.schedules) or None, concurrency_limit=spec.concurrency,
            tags=list(spec.tags), parameters=spec.parameters or None,
            triggers=list(spec.triggers) or None,
        )
    log.info("serving %d deployments, polling every %.2fs", len(DEPLOYMENTS), poll)
    print(f"hub runner: serving {', '.join(s.full_name for s in DEPLOYMENTS)} (poll {poll}s)", flush=True)
    waker = asyncio.create_task(_wake_runner(runner))
    try:
        await runner.start()
    finally:
        waker.cancel()

