"""Collect new form submissions into the ledger: the incremental poll every form service uses.

Nettskjema has no webhooks and no "since" filter, so the hub streams the form's
``submission-metadata`` after a high-water mark on ``submissionId`` kept in the ledger, and
turns each submission into a work item keyed by (service, submission id) — the unique key
is the dedupe. The mark advances only after the items are stored, so a crash re-reads a few
submissions and stores none twice.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from hub.flowkit import transient_only
from hub.ledger import Ledger
from hub.ports.forms import FormsPort

__all__ = ["collect_submissions", "cursor_name"]

CHECKPOINT_EVERY = 500  # the mark is stored after this many new submissions (and at the end)
STORE_EVERY = 100  # submissions stored at once


def cursor_name(form_id: int) -> str:
    return f"nettskjema:{form_id}:submissionId"


@task(name="collect submissions", retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=transient_only,
      cache_policy=NO_CACHE)
async def collect_submissions(forms: FormsPort, ledger: Ledger, *, service: str, form_id: int) -> int:
    """Store every submission newer than the mark as a ``pending`` work item; return how many.
    A page of :data:`STORE_EVERY` submissions is stored at once (:meth:`Ledger.add_items`)."""
    name = cursor_name(form_id)
    after = int(await asyncio.to_thread(ledger.get_cursor, name) or 0)
    highest, added, marked = after, 0, 0
    page: list[tuple[str, str, datetime | None]] = []

    async def store() -> None:
        nonlocal added, marked
        added += await asyncio.to_thread(ledger.add_items, service, page)
        page.clear()
        if added - marked >= CHECKPOINT_EVERY:
            await asyncio.to_thread(ledger.set_cursor, name, str(highest))
            marked = added

    async for meta in forms.submissions_after(form_id, after):
        page.append((str(meta.submission_id), f"{service} submission {meta.submission_id}", meta.created))
        highest = max(highest, meta.submission_id)
        if len(page) >= STORE_EVERY:
            await store()
    await store()
    if highest != after:
        await asyncio.to_thread(ledger.set_cursor, name, str(highest))
    get_run_logger().info("form %s: %d new submission(s) after #%d; mark now #%d",
                          form_id, added, after, highest)
    return added
