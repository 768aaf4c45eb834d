"""Types shared by every port."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, Field

__all__ = ["Health", "HealthCheck"]


class Health(BaseModel):
    """Result of a connector's health check: reachable, authenticated, how fast."""

    system: str
    ok: bool
    latency_ms: float = Field(description="Round trip of the cheapest authenticated call.")
    detail: str = ""
    version: str | None = None


class HealthCheck(Protocol):
    async def health(self) -> Health: ...
