"""``python -m deployments deploy --pool NAME``: the same deployments, run by workers from a work pool.

The embedded runner (``python -m deployments``, :mod:`deployments.serve`) registers every
deployment and executes its runs in one process: the demo's shape. In production the
deployments live in a Prefect *work pool* and any number of ``prefect worker start --pool
NAME`` processes, on one host or several, execute their runs; a dead worker's runs are
marked Crashed by the zombie automation and its work items taken over by ``redrive-stuck``
once their lease ends.

The catalog (:mod:`deployments.catalog`) is the one source for both shapes: each deployment
keeps its schedules, triggers, concurrency, tags and parameters. A worker imports the flow by
its module path (``flows.onboarding.onboarding``) from the installed product, so there is no
source to pull and nothing to build: the process pool's job runs ``python -m prefect.engine``
in the worker's environment, which must carry the same ``HUB_*`` settings as the runner's. A
Kubernetes or Docker pool works the same way with an image that holds the product
(``docs/production.md``).

A per-item deployment's bound (``queued(n)`` in the catalog: onboarding, fritak-case...) is
also the limit of a work queue of its own in the pool. Prefect enforces a deployment limit
when a worker proposes *Pending*: a run over the bound is sent back as
``AwaitingConcurrencySlot`` and offered again a few seconds later, over and over, each time a
poll, a read of the deployment, a refused state, an event and the automations' look at it
(150 fritak cases and 30 hires arriving at once: 2,368 times). A work queue's limit is applied
in the workers' poll itself, so a run over the bound is not handed out until a run of its queue
has finished or suspended. The poll is not a strict bound (three workers polling at once were
handed up to 10 fritak cases against a queue limit of 6), so the deployment limit stays and
still decides: it now refuses only those few (219 times in the same burst, and never more
than 6 cases or 6 onboardings at once). A one-at-a-time deployment (a scheduled batch
whose next run is cancelled while one is working) has no queue of its own. The embedded
runner has no work queues and keeps the deployment limits alone.

The pool's base job template is the process worker's with its variables untyped
(:func:`lean_job_template`: each keeps its title and description, and loses its type and
default). Prefect validates a pool's variables on every run created from a deployment (the
schema checked against JSON Schema's meta-schema, each default, then the run's values): ~9.8 ms
of the API's CPU per run with the stock schema, ~2.9 ms with the untyped one, and a backlog's
runs are created by the hundred. The job configuration is the stock one, so a run with nothing
set gets the same job, and job variables set on a deployment or a run reach it as before. A
value of the wrong type is no longer refused when the run is created: the worker refuses it
when it takes the run (its job model checks the values) and marks the run Crashed with the reason.

Deploying is idempotent: a second call updates the deployments and the queues' limits in place.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.objects import ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment, adeploy
from prefect.exceptions import ObjectAlreadyExists
from prefect.types.entrypoint import EntrypointType
from prefect.workers.process import ProcessWorker

from deployments.definitions import DEPLOYMENTS
from deployments.serve import ensure_limits, ensure_recovery, wait_for_prefect
from hub.services import DeploymentSpec

__all__ = ["DEFAULT_POOL", "ensure_pool", "lean_job_template", "queue_limit", "work_queue", "ensure_queues", "pool_deployments", "deploy_to_pool"]

log = logging.getLogger("hub.deploy")

DEFAULT_POOL = "hub"


def lean_job_template() -> dict[str, Any]:
    """The process worker's base job template with each variable's schema cut to its title and
    description: no type and no default. The job configuration is the stock one, and a run
    with nothing set gets the same job (the stock defaults are the job model's own); see the
    module's docstring."""
    template = ProcessWorker.get_default_base_job_template()
    stock = template["variables"]["properties"]
    template["variables"] = {"type": "object", "properties": {
        name: {"title": schema.get("title", name), "description": schema.get("description", "")}
        for name, schema in stock.items()}}
    return template


async def ensure_pool(name: str, *, concurrency: int | None = None) -> None:
    """The process work pool ``name``, with :func:`lean_job_template` (created if missing; an
    existing one is left as it is: its template is the operator's)."""
    async with get_client() as client:
        try:
            await client.create_work_pool(WorkPoolCreate(name=name, type="process", concurrency_limit=concurrency,
                                                         base_job_template=lean_job_template(),
                                                         description="The hub's flows, run by `prefect worker start`"))
        except ObjectAlreadyExists:
            pass


def queue_limit(spec: DeploymentSpec) -> int | None:
    """The bound of a deployment whose runs queue up (``queued(n)``), also its work queue's
    limit in a pool; None for a deployment without one or one at a time (cancel the new run)."""
    limit = spec.concurrency
    if limit is None or limit.collision_strategy != ConcurrencyLimitStrategy.ENQUEUE:
        return None
    return int(limit.limit)


def work_queue(spec: DeploymentSpec) -> str | None:
    """The work queue of its own that a queued deployment's runs wait in (named after the
    deployment); None for the pool's default queue."""
    return spec.name if queue_limit(spec) is not None else None


async def ensure_queues(pool: str, specs: list[DeploymentSpec]) -> dict[str, int]:
    """A work queue per queued deployment (:func:`work_queue`), with its bound as the queue's
    limit (created, or its limit set again). Returns {queue: limit}."""
    queues: dict[str, int] = {}
    for spec in specs:
        name, limit = work_queue(spec), queue_limit(spec)
        if name is None or limit is None:
            continue
        if name in queues:  # two flows' deployments of one name would share a queue and a bound
            raise ValueError(f"two queued deployments are named {name!r}: each needs a work queue of its own")
        queues[name] = limit
    async with get_client() as client:
        for name, limit in queues.items():
            try:
                await client.create_work_queue(name, work_pool_name=pool, concurrency_limit=limit,
                                               description=f"Runs of the deployment {name}, at most {limit} at once")
            except ObjectAlreadyExists:
                queue = await client.read_work_queue_by_name(name, work_pool_name=pool)
                if queue.concurrency_limit != limit:
                    await client.update_work_queue(queue.id, concurrency_limit=limit)
    return queues


async def pool_deployments(*, paused_schedules: bool = False) -> list[RunnerDeployment]:
    """Every catalog deployment as a work-pool deployment whose entrypoint is a module path; a
    queued one in its own work queue (:func:`ensure_queues`) too."""
    return [await spec.flow.ato_deployment(
        name=spec.name, description=spec.description,
        paused=(paused_schedules and bool(spec.schedules)) or None,
        schedules=list(spec.schedules) or None, concurrency_limit=spec.concurrency,
        work_queue_name=work_queue(spec),
        tags=list(spec.tags), parameters=spec.parameters or None, triggers=list(spec.triggers) or None,
        entrypoint_type=EntrypointType.MODULE_PATH,
    ) for spec in DEPLOYMENTS]


async def deploy_to_pool(pool: str = DEFAULT_POOL, *, paused_schedules: bool | None = None) -> list[UUID]:
    """Register every deployment in ``pool``, with the global limits and the zombie automation
    the runner also keeps. Returns the deployment ids, in catalog order."""
    paused = os.environ.get("HUB_PAUSE_SCHEDULES") == "1" if paused_schedules is None else paused_schedules
    await wait_for_prefect(max_wait=120)
    await ensure_limits()
    await ensure_recovery()
    await ensure_pool(pool)
    await ensure_queues(pool, list(DEPLOYMENTS))
    ids = await adeploy(*await pool_deployments(paused_schedules=paused), work_pool_name=pool, build=False, push=False,
                        print_next_steps_message=False, ignore_warnings=True)
    log.info("deployed %d deployments to the work pool %r", len(ids), pool)
    return ids
