"""Every deployment of the hub, defined once.

The demo, the tests and production all serve exactly this list (``python -m
deployments.serve``): schedules, triggers and concurrency live here and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from prefect import Flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.client.schemas.schedules import CronSchedule

from flows.onboarding import onboarding
from flows.onboarding_catchup import onboarding_catchup

__all__ = ["DeploymentSpec", "DEPLOYMENTS", "GLOBAL_LIMITS", "PRELOAD"]

OSLO = "Europe/Oslo"


@dataclass(frozen=True)
class DeploymentSpec:
    flow: Flow[..., Any]
    name: str
    description: str
    schedules: tuple[CronSchedule, ...] = ()
    concurrency: ConcurrencyLimitConfig | None = None
    tags: tuple[str, ...] = ()
    parameters: dict[str, Any] = field(default_factory=dict)
    triggers: tuple[Any, ...] = ()

    @property
    def full_name(self) -> str:
        return f"{self.flow.name}/{self.name}"


DEPLOYMENTS: tuple[DeploymentSpec, ...] = (
    DeploymentSpec(
        flow=onboarding,
        name="onboarding",
        description="Onboard one new employee. Started by HR's new-hire event through the hub's "
                    "intake (exactly once per event; a future gyldigEtter is scheduled for that day).",
        # Runs start at once and wait inside for the RT limit below; the deployment limit only
        # bounds how many flow processes one burst of hires can start.
        concurrency=ConcurrencyLimitConfig(limit=10, collision_strategy=ConcurrencyLimitStrategy.ENQUEUE),
        tags=("service:onboarding", "event-triggered"),
    ),
    DeploymentSpec(
        flow=onboarding_catchup,
        name="daily-catchup",
        description="Safety net: every morning, re-read hires starting within 14 days and onboard "
                    "anyone the events missed.",
        schedules=(CronSchedule(cron="30 5 * * *", timezone=OSLO),),
        concurrency=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
        tags=("service:onboarding", "scheduled"),
    ),
)

# Global limits shared by every flow run: Request Tracker on SQLite manages ~3 writes/s.
# Allocating a laptop is a read-then-write on RT assets, and RT checks If-Match before, not
# with, its write: one allocation at a time across all processes.
GLOBAL_LIMITS: dict[str, int] = {"request-tracker": 2, "rt-asset-allocation": 1}

# Imported once by the runner's fork server, so a flow run starts without re-importing:
# the flows, and the adapters the wiring picks at run time.
# (multiprocessing also re-runs the parent's __main__ module, deployments.serve, in every
# child; preloaded, that costs nothing instead of ~0.3 s.)
PRELOAD: tuple[str, ...] = (
    "deployments.serve", "flows.onboarding", "flows.onboarding_catchup",
    "connectors.dfo.client", "connectors.n5ws.client", "connectors.rt.client", "connectors.smtp.client",
)
