"""The production shape's first half: the catalog's deployments in a Prefect work pool, run
by the hub's worker (``python -m deployments worker``: Prefect's process worker, each run
forked from a preloaded fork server). The same definitions the embedded runner serves."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from prefect.client.orchestration import get_client

from deployments.catalog import CATALOG
from deployments.pool import ensure_queues, lean_job_template, queue_limit
from hub.ledger import ItemState, Ledger
from hub.settings import ROOT
from sandbox.procs import descendants

POOL = "hub-test-pool"


def _env(api_url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PREFECT_"))}
    return {**env, "PREFECT_API_URL": api_url, "PREFECT_HOME": str(home / "prefect"), "HUB_HOME": str(home),
            "HUB_LEDGER_URL": f"sqlite:///{home / 'ledger.db'}", "HUB_PAUSE_SCHEDULES": "1",
            "PYTHONPATH": str(ROOT), "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "HUB_LIMITS": '{"ticketing": 3}'}


async def test_every_deployment_is_in_the_work_pool_and_a_worker_runs_its_flows(
        prefect_server: str, tmp_path: Path) -> None:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    env = _env(prefect_server, tmp_path)
    ledger = Ledger(env["HUB_LEDGER_URL"])  # migrated, as the stack does before any worker starts
    item = ledger.ensure_item("fritak", "4711", title="Fritak application 4711")
    ledger.finish_item(item.id, ItemState.DONE)
    ledger.dispose()

    deployed = subprocess.run([sys.executable, "-m", "deployments", "deploy", "--pool", POOL], env=env,
                              capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert deployed.returncode == 0, deployed.stdout[-2000:] + deployed.stderr[-3000:]
    specs = CATALOG.deployments()
    assert f"{len(specs)} deployments in the work pool {POOL!r}" in deployed.stdout

    async with get_client() as client:
        queued = 0
        for spec in specs:
            found = await client.read_deployment_by_name(spec.full_name)
            assert found.work_pool_name == POOL, spec.full_name
            assert found.entrypoint == f"{spec.flow.fn.__module__}.{spec.flow.fn.__name__}"
            assert len(found.schedules) == len(spec.schedules), spec.full_name
            assert found.paused == bool(spec.schedules), "scheduled deployments stay paused when asked"
            assert sorted(found.tags) == sorted(spec.tags)
            # Every bound is Prefect's deployment limit; a queued deployment's is its work queue's
            # too, applied in the workers' poll (deployments/pool.py).
            assert (found.global_concurrency_limit and found.global_concurrency_limit.limit) == (
                spec.concurrency and spec.concurrency.limit), spec.full_name
            bound = queue_limit(spec)
            if bound is None:
                assert found.work_queue_name == "default", spec.full_name
            else:
                queued += 1
                queue = await client.read_work_queue_by_name(spec.name, work_pool_name=POOL)
                assert (found.work_queue_name, queue.concurrency_limit) == (spec.name, bound), spec.full_name
        assert queued >= 4  # onboarding, fritak cases, movers, leavers...
        # A queue's limit changed by hand is set back to the catalog's by the next deploy.
        onboarding = await client.read_work_queue_by_name("onboarding", work_pool_name=POOL)
        await client.update_work_queue(onboarding.id, concurrency_limit=1)
        catalog_limit = queue_limit(next(spec for spec in specs if spec.name == "onboarding"))
        assert catalog_limit is not None and catalog_limit > 1
        assert (await ensure_queues(POOL, list(specs)))["onboarding"] == catalog_limit
        assert (await client.read_work_queue_by_name("onboarding", work_pool_name=POOL)
                ).concurrency_limit == catalog_limit
        for name, slots in CATALOG.limits({"ticketing": 3}).items():  # HUB_LIMITS sets the slots
            assert (await client.read_global_concurrency_limit_by_name(name)).limit == slots

        # The pool's variables are untyped (each run created costs Prefect ~2.9 ms of validation,
        # not ~9.8 ms); a run's job variables are taken all the same.
        pool = await client.read_work_pool(POOL)
        assert pool.base_job_template == lean_job_template()
        metrics = await client.read_deployment_by_name("service-metrics/service-metrics")
        run = await client.create_flow_run_from_deployment(metrics.id, parameters={"weeks": 2},
                                                           job_variables={"env": {"HUB_JOB_VARIABLE_PROBE": "1"}})

        log = (tmp_path / "worker.log").open("w")
        # Polling every 5 minutes: a run started later is found by the Scheduled event alone.
        worker = subprocess.Popen([sys.executable, "-m", "deployments", "worker", "--pool", POOL, "--limit", "2"],
                                  env={**env, "PREFECT_WORKER_QUERY_SECONDS": "300"}, stdout=log,
                                  stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                state = (await client.read_flow_run(run.id)).state
                if state is not None and state.is_final():
                    break
                await asyncio.sleep(0.5)
            assert state is not None and state.is_completed(), (
                f"{state}\n" + (tmp_path / "worker.log").read_text()[-4000:])
            artifacts = await client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
            table = next(a for a in artifacts if a.key == "service-metrics")
            assert "fritak" in str(table.data)
            # Runs are forked from the worker's preloaded fork server (Prefect's own process worker
            # would have started a fresh `python -m prefect.engine`, and kept no fork server).
            family = [Path(f"/proc/{p.pid}/cmdline").read_bytes().replace(b"\0", b" ")
                      for p in descendants(worker.pid)]
            assert any(b"multiprocessing.forkserver" in line and b"flows.ops_metrics" in line for line in family), family

            # The worker is woken by Prefect's Scheduled event, not by its next poll.
            second = await client.create_flow_run_from_deployment(metrics.id, parameters={"weeks": 1})
            created = time.monotonic()
            while time.monotonic() - created < 30:
                state = (await client.read_flow_run(second.id)).state
                if state is not None and not state.is_scheduled():
                    break
                await asyncio.sleep(0.2)
            assert state is not None and not state.is_scheduled(), (
                "the worker did not take a run within 30 s of its Scheduled event\n"
                + (tmp_path / "worker.log").read_text()[-3000:])
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:  # a loaded machine: it may still be shutting down
                worker.kill()
                worker.wait(timeout=15)
            log.close()


async def test_a_burst_of_announcements_makes_one_more_look_not_one_each(prefect_server: str) -> None:
    """The scheduler announces a deployment's future runs in a batch (up to 100): a runner or
    worker woken by each would poll Prefect once per announcement. Looks take 1 s here; a look
    per announcement would make 40, and announcements arriving during a look make one more."""
    from prefect.events import Event
    from prefect.events.clients import get_events_client

    from deployments.serve import wake_on_scheduled_runs

    looks: list[float] = []

    async def look() -> None:
        looks.append(time.monotonic())
        await asyncio.sleep(1.0)  # a poll step that takes a while

    waker = asyncio.create_task(wake_on_scheduled_runs(look))
    try:
        await asyncio.sleep(1.5)  # subscribed
        async with get_events_client() as events:
            for n in range(40):
                await events.emit(Event(event="prefect.flow-run.Scheduled",
                                        resource={"prefect.resource.id": f"prefect.flow-run.burst-{n}"}))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # until the looks stop (a loaded host delivers slowly)
            await asyncio.sleep(0.5)
            if looks and time.monotonic() - looks[-1] > 3:
                break
    finally:
        waker.cancel()
    assert 1 <= len(looks) <= 12, looks
