"""Base class for a connector's configuration.

A connector's ``config.py`` subclasses :class:`ConnectorConfig`. Every field has a
``description`` (shown by ``hub doctor`` and checked by the contract tests) and every
secret is a ``SecretStr``, so it is never printed.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hub.http import RetryPolicy

__all__ = ["ConnectorConfig"]


class ConnectorConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)

    base_url: str = Field(description="Base URL of the system's API.")
    timeout: float = Field(10.0, gt=0, description="Seconds to wait for one HTTP response.")
    max_attempts: int = Field(5, ge=1, le=20, description="Attempts per request on transient errors.")
    max_retry_seconds: float = Field(30.0, gt=0, description="Upper bound on time spent retrying one request.")

    def policy(self) -> RetryPolicy:
        return RetryPolicy(
            max_attempts=self.max_attempts,
            max_total_seconds=self.max_retry_seconds,
            timeout=self.timeout,
            connect_timeout=min(3.0, self.timeout),
        )
