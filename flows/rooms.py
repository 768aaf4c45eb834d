"""Bestille grupperom: students and staff book a group room in Nettskjema; the hub books it
in the room's calendar (CalDAV) and confirms by e-mail with the event attached.

``room-bookings`` (every minute) collects new submissions of "Bestille grupperom" (service
``rooms``) and "Avbestille grupperom" (service ``rooms-cancel``), and replies to the cancel
address (:mod:`flows.rooms_replies`, also ``rooms-cancel``), into the ledger; then, in one
batch, cancellations first (they free slots) and then bookings:

- booking: validate → the first fitting room that is free → book it (a room taken
  meanwhile, also by a racing booking, is a Conflict: try the next room) → confirmation
  with the ``.ics``, the reference and how to cancel. Nothing free → an e-mail with the
  three nearest free alternatives (the item is done: the request was answered).
- cancellation: the reference must be genuine and the booker the one who booked → the
  event is deleted (the slot is free again) → confirmation by e-mail.

An invalid request or cancellation is a dead letter with its reason, and the booker is told
by e-mail. A request that failed on a transient error (the calendar was down) is retried
by the next run. Step details: :mod:`flows.rooms_steps`.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.forms_poll import collect_submissions
from flows.rooms_replies import collect_cancel_replies
from flows.rooms_steps import CANCEL_SERVICE, SERVICE, handle_booking, handle_cancellation
from hub.errors import HubError, TransientError
from hub.flowkit import Tally, run_pages, transient_only
from hub.settings import OSLO, get_settings
from hub.text import table_for_prefect
from hub.wiring import Connectors, connect, get_ledger

__all__ = ["room_bookings", "process_bookings", "process_cancellations", "SERVICE", "CANCEL_SERVICE"]

MAX_TRANSIENT_ATTEMPTS = 5


@task(name="process cancellations", cache_policy=NO_CACHE, persist_result=False)
async def process_cancellations(ports: Connectors) -> Tally:
    return await run_pages(CANCEL_SERVICE, ports, handle_cancellation, retry_below=MAX_TRANSIENT_ATTEMPTS)


# Retried when the room list could not be read (the items' own errors are recorded per item
# and never leave run_batch): one garbled PROPFIND answer failed the whole minute's run. As
# patient as a step (1, 5, 20 s): under chaos a burst of garbled answers outlasted 1 and 5 s.
@task(name="process room requests", cache_policy=NO_CACHE, persist_result=False,
      retries=3, retry_delay_seconds=[1, 5, 20], retry_condition_fn=transient_only)
async def process_bookings(ports: Connectors) -> Tally:
    """New requests, and those that failed only because a system was briefly unavailable
    (fewer than :data:`MAX_TRANSIENT_ATTEMPTS` times), oldest first, a page at a time."""
    due = await asyncio.to_thread(get_ledger().due_items, SERVICE, retry_below=MAX_TRANSIENT_ATTEMPTS, limit=1)
    if not due:
        return Tally()
    rooms = await ports.calendar.list_rooms()
    if not rooms:  # never the bookers' fault: they would all be told that no room fits
        raise TransientError("the calendar lists no group rooms at all", system="calendar",
                             hint="The requests wait and are handled once the calendar lists its rooms again; if "
                                  "this persists, check the CalDAV server (and any proxy before it) and the rooms' "
                                  "calendars.")
    return await run_pages(SERVICE, ports, lambda run: handle_booking(run, rooms, datetime.now(OSLO)),
                           retry_below=MAX_TRANSIENT_ATTEMPTS)


@task(name="prune past slots and archive ended bookings", cache_policy=NO_CACHE, persist_result=False)
async def prune_past(ports: Connectors) -> int:
    """Housekeeping: the calendar's double-booking bookkeeping for days that have ended, and
    the bookings of those days moved to the calendar's archive, so a booking costs the same at
    50,000 bookings as at 500. A failure waits for the next run."""
    try:
        return await ports.calendar.prune_past()
    except HubError as exc:
        get_run_logger().warning("pruning past slots and archiving ended bookings failed (%s); the next run tries "
                                 "again", exc)
        return 0


@flow(name="room-bookings", log_prints=False)
async def room_bookings() -> dict[str, int]:
    """Collect new room requests and cancellations (forms and e-mail replies); handle them."""
    settings = get_settings()
    cfg, ledger = settings.rooms, get_ledger(settings)
    async with connect(settings, service=SERVICE) as ports:
        added = await collect_submissions(ports.forms, ledger, service=SERVICE, form_id=cfg.form_id)
        cancels = await collect_submissions(ports.forms, ledger, service=CANCEL_SERVICE, form_id=cfg.cancel_form_id)
        replies = await collect_cancel_replies(ports.inbox, ledger, mailbox=cfg.cancel_mailbox,
                                               domain=cfg.cancel_domain, service=CANCEL_SERVICE)
        handled = (await process_cancellations(ports)).merge(await process_bookings(ports))
        pruned = await prune_past(ports)
    if handled.rows:
        await acreate_table_artifact(key="room-bookings", table=table_for_prefect(handled.table()),
                                     description="Group-room bookings and cancellations handled this run")
    counts = {"new": added, "new_cancellations": cancels + replies, "handled": handled.handled,
              "failed": handled.failed}
    get_run_logger().info("room bookings: %s; past slot bookkeeping pruned and ended bookings archived: %d",
                          counts, pruned)
    return counts
