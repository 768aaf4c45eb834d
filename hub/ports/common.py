"""Types shared by every port."""

from __future__ import annotations

import time
from typing import Protocol

from pydantic import BaseModel, Field

__all__ = ["Health", "HealthCheck", "HealthProbe"]


class Health(BaseModel):
    """Result of a connector's health check: reachable, authenticated, how fast."""

    system: str
    ok: bool
    latency_ms: float = Field(description="Round trip of the cheapest authenticated call.")
    detail: str = ""
    version: str | None = None


class HealthCheck(Protocol):
    async def health(self) -> Health: ...


class HealthProbe:
    """Times one health check and builds its :class:`Health`::

        probe = HealthProbe(SYSTEM)
        try:
            version = await self._rest.version()
        except HubError as exc:
            return probe.failed(exc)
        return probe.ok("token accepted", version=version)
    """

    def __init__(self, system: str) -> None:
        self.system = system
        self.restart()

    def restart(self) -> None:
        """Time from here on (after a warm-up call that should not count)."""
        self._started = time.perf_counter()

    def _ms(self) -> float:
        return round((time.perf_counter() - self._started) * 1000, 2)

    def ok(self, detail: str = "", *, version: str | None = None) -> Health:
        return Health(system=self.system, ok=True, latency_ms=self._ms(), detail=detail, version=version)

    def failed(self, reason: Exception | str) -> Health:
        """Unhealthy; an exception is described by its kind (``config``, ``transient``…) and message."""
        kind = getattr(reason, "kind", None)
        detail = f"{kind}: {reason}" if isinstance(reason, Exception) and kind else str(reason)
        return Health(system=self.system, ok=False, latency_ms=self._ms(), detail=detail)
