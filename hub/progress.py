"""A batch's progress in the Prefect UI, while it drains a backlog.

A ``room-bookings`` run at the start of a semester works through thousands of requests for a
quarter of an hour, and until it ends its page in the Prefect UI said nothing about how far
it had come. :class:`Progress` keeps a progress artifact on the run: a bar, and a line such as
"rooms: 1,204 of 9,400 due items handled, 3 failed", written when the batch starts, every
:data:`UPDATE_EVERY` seconds while items end, and once more at the end. The artifact has a
key per service (``rooms-progress``), so the Artifacts page shows the latest run's beside
the earlier ones.

Progress is for people, never a reason to stop: if Prefect does not take an update, the
batch goes on and the next update tries again. Outside a flow run, and for a batch of fewer
than :data:`MIN_ITEMS` items (over in seconds; ``laptop-orders`` looks at its few orders
waiting for stock every minute), nothing is written. The line holds counts only, never a key
or a name.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from types import TracebackType
from typing import Any
from uuid import UUID

from hub.ledger import ItemState

__all__ = ["Progress", "UPDATE_EVERY", "MIN_ITEMS"]

log = logging.getLogger("hub.progress")

# Seconds between two updates of the bar while items end (one small API call each).
UPDATE_EVERY = 10.0
# The smallest batch that shows its progress.
MIN_ITEMS = 20


def _in_flow_run() -> bool:
    from prefect.runtime import flow_run

    return bool(flow_run.id)


class Progress:
    """``async with Progress("rooms", total) as progress:`` … ``progress.ended(row)`` for each
    item as it ends (a :func:`hub.flowkit.run_batch` row: its ``state``)."""

    def __init__(self, service: str, total: int) -> None:
        self.service, self.total = service, total
        self.handled = self.failed = 0
        self._artifact: UUID | None = None
        self._shown: tuple[int, int] | None = None
        self._last = 0.0
        self._writing: asyncio.Task[None] | None = None

    @property
    def key(self) -> str:
        return f"{self.service.lower().replace('_', '-')}-progress"

    def line(self) -> str:
        total = max(self.total, self.handled)  # items that arrived while the run went on are worked too
        failed = f", {self.failed:,} failed" if self.failed else ""
        return f"{self.service}: {self.handled:,} of {total:,} due items handled{failed}"

    def percent(self) -> float:
        total = max(self.total, self.handled)
        return 100.0 if total == 0 else round(100.0 * self.handled / total, 1)

    async def __aenter__(self) -> Progress:
        if self.total >= MIN_ITEMS and _in_flow_run():
            from prefect.artifacts import acreate_progress_artifact

            try:
                self._artifact = await acreate_progress_artifact(0.0, key=self.key, description=self.line())
            except Exception as exc:  # progress is for people; the batch goes on
                log.warning("could not show the progress of %s in Prefect (%s); the batch goes on",
                            self.service, str(exc)[:200])
            self._shown, self._last = (0, 0), time.monotonic()
        return self

    def ended(self, row: dict[str, Any]) -> None:
        """One item ended (its row); the bar is updated if it was last updated long enough ago."""
        self.handled += 1
        self.failed += row.get("state") == ItemState.FAILED
        if self._artifact is not None and self._writing is None and time.monotonic() - self._last >= UPDATE_EVERY:
            self._writing = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        from prefect.artifacts import aupdate_progress_artifact

        shown = (self.handled, self.failed)
        try:
            if self._artifact is not None and shown != self._shown:
                await aupdate_progress_artifact(self._artifact, self.percent(), description=self.line())
                self._shown = shown
        except Exception as exc:  # Prefect busy or away: the next update tries again
            log.debug("progress of %s not updated: %s", self.service, str(exc)[:200])
        finally:
            self._last, self._writing = time.monotonic(), None

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await self._writing
        await self._write()
