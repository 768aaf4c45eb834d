"""Every deployment of the hub, as the runner serves it: a view of :mod:`deployments.catalog`.

The demo, the tests and production all serve exactly this list (``python -m
deployments``): schedules, triggers and concurrency are declared with each service in the
catalog and nowhere else.
"""

from __future__ import annotations

from connectors.registry import ADAPTERS
from deployments.catalog import CATALOG
from hub.services import DeploymentSpec

__all__ = ["DeploymentSpec", "DEPLOYMENTS", "GLOBAL_LIMITS", "PRELOAD"]

DEPLOYMENTS: tuple[DeploymentSpec, ...] = CATALOG.deployments()
GLOBAL_LIMITS: dict[str, int] = CATALOG.limits()

# What the fork server imports once, so a flow run starts without re-importing Prefect, the
# flows and the connectors: every deployed flow's module and every registered adapter, and
# what Prefect imports only on a run's way (its task engine and graph helpers at the first
# task, anyio's asyncio backend). ``deployments.serve`` adds the ledger's database driver.
PRELOAD: tuple[str, ...] = ("deployments.serve", "prefect.task_engine", "prefect.utilities.visualization",
                            "anyio._backends._asyncio",
                            *sorted({spec.flow.fn.__module__ for spec in DEPLOYMENTS}),
                            *(f"connectors.{a.name}.client" for a in ADAPTERS))
