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

Deploying is idempotent: a second call updates the deployments in place.
"""

from __future__ import annotations

import logging
import os
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.deployments.runner import RunnerDeployment, adeploy
from prefect.exceptions import ObjectAlreadyExists
from prefect.types.entrypoint import EntrypointType

from deployments.definitions import DEPLOYMENTS
from deployments.serve import ensure_limits, ensure_recovery, wait_for_prefect

__all__ = ["DEFAULT_POOL", "ensure_pool", "pool_deployments", "deploy_to_pool"]

log = logging.getLogger("hub.deploy")

DEFAULT_POOL = "hub"


async def ensure_pool(name: str, *, concurrency: int | None = None) -> None:
    """The process work pool ``name`` (created if missing; an existing one is left as it is)."""
    async with get_client() as client:
        try:
            await client.create_work_pool(WorkPoolCreate(name=name, type="process", concurrency_limit=concurrency,
                                                         description="The hub's flows, run by `prefect worker start`"))
        except ObjectAlreadyExists:
            pass


async def pool_deployments(*, paused_schedules: bool = False) -> list[RunnerDeployment]:
    """Every catalog deployment as a work-pool deployment whose entrypoint is a module path."""
    return [await spec.flow.ato_deployment(
        name=spec.name, description=spec.description,
        paused=(paused_schedules and bool(spec.schedules)) or None,
        schedules=list(spec.schedules) or None, concurrency_limit=spec.concurrency,
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
    ids = await adeploy(*await pool_deployments(paused_schedules=paused), work_pool_name=pool, build=False, push=False,
                        print_next_steps_message=False, ignore_warnings=True)
    log.info("deployed %d deployments to the work pool %r", len(ids), pool)
    return ids
