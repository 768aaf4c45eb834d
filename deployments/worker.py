"""``python -m deployments worker --pool NAME``: a process-pool worker that starts runs fast.

Prefect's process worker starts every flow run as a new ``python -m prefect.engine``, which
imports Prefect, the flow and its connectors again: seconds of CPU per run, and tens of
seconds on a busy two-core host (``bench/onboarding_latency.py --workers``). This worker is
Prefect's own :class:`~prefect.workers.process.ProcessWorker` — same pool type, same
polling, heartbeats, cancellation and crash handling — except that a run's process is forked
from a fork server that has Prefect, the flows and the connectors already imported, exactly
as the embedded runner does (:func:`deployments.serve.use_preloaded_fork_server`), and that
it looks for runs as soon as Prefect announces one, not only at its next poll. Each run
still gets its own process, with this worker's environment.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import anyio
import anyio.abc
from prefect.flows import load_flow_from_flow_run
from prefect.runner._flow_run_executor import FlowRunExecutionResult, FlowRunExecutorContext
from prefect.runner._process_manager import ProcessHandle
from prefect.runner._starter_direct import DirectSubprocessStarter
from prefect.workers.process import ProcessJobConfiguration, ProcessWorker, ProcessWorkerResult

from deployments.serve import use_preloaded_fork_server, wait_for_prefect, wake_on_scheduled_runs

__all__ = ["PreloadedProcessWorker", "work"]


class PreloadedProcessWorker(ProcessWorker):
    """A process worker whose runs are forked from a preloaded fork server."""

    async def run(self, flow_run: Any, configuration: ProcessJobConfiguration,
                  task_status: anyio.abc.TaskStatus[int] | None = None) -> ProcessWorkerResult:
        if task_status is None:
            task_status = anyio.TASK_STATUS_IGNORED
        flow = await load_flow_from_flow_run(flow_run)  # already imported: the module is preloaded
        async with FlowRunExecutorContext() as ctx:
            starter = DirectSubprocessStarter(flow=flow, control_channel=ctx.control_channel)
            executor = ctx.create_executor(flow_run, starter, resolve_flow=load_flow_from_flow_run,
                                           propose_submitting=False)
            execution: FlowRunExecutionResult | None = None

            async def execute(*, task_status: anyio.abc.TaskStatus[ProcessHandle] = anyio.TASK_STATUS_IGNORED
                              ) -> None:
                nonlocal execution
                execution = await executor.submit(task_status=task_status)

            async with anyio.create_task_group() as group:
                handle = await group.start(execute)
                if handle.pid is None:
                    raise RuntimeError("the flow run's process has no pid")
                task_status.started(handle.pid)
        if execution is None or execution.status_code is None:
            raise RuntimeError("the flow run's process did not start")
        return ProcessWorkerResult(status_code=execution.status_code, identifier=str(execution.handle.pid))


async def work(pool: str, *, name: str | None = None, limit: int | None = None) -> None:
    """Run a preloaded worker for ``pool`` until stopped (SIGTERM / Ctrl-C)."""
    await wait_for_prefect()  # first: the fork server checks the server's version for every run
    if os.environ.get("HUB_RUNNER_FORKSERVER", "1") == "1":
        use_preloaded_fork_server()
    async with PreloadedProcessWorker(work_pool_name=pool, name=name, limit=limit) as worker:
        print(f"hub worker {worker.name}: working the pool {pool!r} (runs forked from a preloaded fork server)",
              flush=True)
        # Woken by Prefect's Scheduled events, as the runner is: a run waits for no poll
        # (PREFECT_WORKER_QUERY_SECONDS). Every worker looks; Prefect gives a run to one of them.
        waker = asyncio.create_task(wake_on_scheduled_runs(worker.get_and_submit_flow_runs))
        try:
            await worker.start()
        finally:
            waker.cancel()
