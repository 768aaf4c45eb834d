"""``python -m deployments.serve``: register and serve every deployment (the hub's worker).

It upserts the global concurrency limits, registers each deployment in
:mod:`deployments.definitions` with a Prefect ``Runner`` and executes their runs.

Start-up latency. Prefect's runner starts each flow run in a *spawned* interpreter, which
re-imports Prefect and the flow (2–3 s on a 2-core machine). The hub swaps that spawn for
a fork server that has Prefect and the flows preloaded, so a run starts in ~0.1 s; with
the runner polling every ``HUB_RUNNER_POLL`` (0.25) s, an event reaches flow code in about
a second. Each run still gets its own process, as with Prefect's default.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from typing import Any

from prefect.client.orchestration import get_client
from prefect.runner import Runner

from deployments.definitions import DEPLOYMENTS, FLOW_MODULES, GLOBAL_LIMITS

__all__ = ["use_preloaded_fork_server", "ensure_limits", "serve"]

log = logging.getLogger("hub.serve")


class _PreloadedContext:
    """``multiprocessing`` as Prefect's flow engine sees it: "spawn" means our fork server."""

    def __init__(self, preload: tuple[str, ...]) -> None:
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["prefect", "prefect.flow_engine", *preload])

    def get_context(self, method: str | None = None) -> Any:
        return self._ctx if method == "spawn" else multiprocessing.get_context(method)

    def __getattr__(self, name: str) -> Any:
        return getattr(multiprocessing, name)


def use_preloaded_fork_server(preload: tuple[str, ...] = FLOW_MODULES) -> None:
    import prefect.flow_engine as engine

    engine.multiprocessing = _PreloadedContext(preload)  # type: ignore[assignment]


async def ensure_limits() -> None:
    async with get_client() as client:
        for name, slots in GLOBAL_LIMITS.items():
            await client.upsert_global_concurrency_limit_by_name(name, slots)


async def serve(poll_seconds: float | None = None, limit: int | None = None) -> None:
    poll = poll_seconds if poll_seconds is not None else float(os.environ.get("HUB_RUNNER_POLL", "0.25"))
    if os.environ.get("HUB_RUNNER_FORKSERVER", "1") == "1":
        use_preloaded_fork_server()
    await ensure_limits()
    runner = Runner(name="hub-runner", query_seconds=poll,
                    limit=limit or int(os.environ.get("HUB_RUNNER_LIMIT", "8")))
    for spec in DEPLOYMENTS:
        await runner.aadd_flow(
            spec.flow, name=spec.name, description=spec.description,
            schedules=list(spec.schedules) or None, concurrency_limit=spec.concurrency,
            tags=list(spec.tags), parameters=spec.parameters or None,
            triggers=list(spec.triggers) or None,
        )
    log.info("serving %d deployments, polling every %.2fs", len(DEPLOYMENTS), poll)
    print(f"hub runner: serving {', '.join(s.full_name for s in DEPLOYMENTS)} (poll {poll}s)", flush=True)
    await runner.start()


if __name__ == "__main__":
    asyncio.run(serve())
