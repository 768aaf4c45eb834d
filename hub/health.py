"""Health of every port's adapter and of the Prefect server: reachable, authenticated, how fast.

Read by the ``connector-health`` flow, ``hub status`` and ``hub doctor``. A check reports,
it never raises: an adapter that cannot even be built (a missing setting, an unreadable token
file) is a red row saying why.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from hub.ports.common import Health
from hub.services import PORTS
from hub.settings import get_settings
from hub.wiring import Connectors, connect

__all__ = ["check_all", "TIMEOUT"]

TIMEOUT = 15.0


async def _check(name: str, ports: Connectors) -> Health:
    started = time.perf_counter()
    try:
        port: Any = getattr(ports, name)
        health: Health = await asyncio.wait_for(port.health(), TIMEOUT)
        return health
    except Exception as exc:  # a health check must report, never raise
        return Health(system=name, ok=False, latency_ms=(time.perf_counter() - started) * 1000,
                      detail=f"{exc.__class__.__name__}: {exc}"[:300])


async def _prefect_health(api_url: str) -> Health:
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(f"{api_url}/health")
        ok = response.status_code == 200
        detail = "API healthy" if ok else f"HTTP {response.status_code}"
    except httpx.HTTPError as exc:
        ok, detail = False, f"unreachable: {exc.__class__.__name__}"
    return Health(system="prefect", ok=ok, latency_ms=(time.perf_counter() - started) * 1000, detail=detail)


async def check_all() -> dict[str, Health]:
    """One health row per port, plus ``prefect``."""
    settings = get_settings()
    async with connect(settings) as ports:
        results = await asyncio.gather(*(_check(name, ports) for name in PORTS))
    checks = dict(zip(PORTS, results, strict=True))
    checks["prefect"] = await _prefect_health(settings.prefect_api_url)
    return checks
