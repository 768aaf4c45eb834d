"""Bestille laptop: employees order a laptop in Nettskjema; IT delivers it.

``laptop-orders`` (every minute) collects new submissions into the ledger and works
through every order that is new (or replayed) or still waiting for stock, in one batch:

1. read and validate the order; find the employee in HR by Feide id — an unknown person or
   a model IT does not offer is a dead letter with its reason (never retried blindly);
2. ensure the RT ticket in the equipment queue (``ExternalRef`` = the submission);
3. reserve a free laptop of the chosen model; none free → the ticket says so and the order
   waits (it is not a failure) until stock arrives.

Delivery is followed up by ``laptop-delivery`` (:mod:`flows.laptop_delivery`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.forms_poll import collect_submissions
from flows.onboarding_steps import TICKETING_LIMIT
from hub.errors import HubError, InvalidInput
from hub.flowkit import Progress, Run, run_batch, turn_down, verdicts
from hub.leases import asset_claims
from hub.ledger import ItemState, WorkItem
from hub.ports.hr import Employee
from hub.settings import get_settings
from hub.text import table_for_prefect
from hub.wiring import Connectors, connect, get_ledger
from mappings.laptop import (
    LaptopOrder,
    external_ref,
    no_stock_comment,
    order_ticket,
    read_order,
    reserved_comment,
)

__all__ = ["laptop_orders", "SERVICE", "AWAITING_ASSET", "AWAITING_DELIVERY"]

SERVICE = "laptop"
AWAITING_ASSET = "awaiting_asset"
AWAITING_DELIVERY = "awaiting_delivery"


async def read_and_check(ports: Connectors, submission_id: int, models: Mapping[str, str]
                         ) -> tuple[LaptopOrder, Employee]:
    """The order and the employee it is for; ``InvalidInput`` when the order is not valid or HR
    does not know the person (a dead letter with its reason, never retried blindly)."""
    order, problems = read_order(await ports.forms.get_submission(submission_id), models=models)
    if order is None:
        raise InvalidInput(f"laptop order {submission_id} is not valid: " + "; ".join(problems),
                           system="forms", hint="Ask the requester for a corrected order, or fix the "
                           "offer (HUB_LAPTOP__MODELS), then replay the item.")
    employee = await ports.hr.find_by_feide_id(order.feide)
    if employee is None:
        raise InvalidInput(f"nobody with Feide id {order.feide} is employed according to HR (DFØ)",
                           system="hr", hint="Check the Feide id with the requester, or wait until HR "
                           "has registered the person; then replay the item.")
    return order, employee


async def handle_order(run: Run) -> str:
    """One order, as far as it can go now. Returns what happened, for the run's summary."""
    ports, cfg = run.ports, run.settings.laptop
    async with run.step("read_order"):
        order, employee = await read_and_check(ports, int(run.item.source_key), cfg.models)
        await asyncio.to_thread(run.ledger.update_data, run.item.id, employee_id=employee.id,
                                feide=order.feide, model=order.model)
    async with run.step("ensure_ticket"):
        async with run.slots(TICKETING_LIMIT):  # RT's write; the ledger's record of it after
            ticket = await ports.ticketing.ensure_ticket(order_ticket(order, employee, queue=cfg.queue))
        await run.remember("ticket", system="ticketing", kind="ticket", ref=ticket.id, url=ticket.url,
                           key=ticket.external_ref)
    return await _reserve(run, order, ticket.id)


async def _reserve(run: Run, order: LaptopOrder, ticket_id: str) -> str:
    ticketing, cfg = run.ports.ticketing, run.settings.laptop
    # First come, first served: the earliest order gets the last laptop of its model (its turn
    # first, then the slot — never hold a ticketing slot while waiting for an earlier order).
    # Each free laptop is claimed under a ledger lease of its own (asset_claims). The turn and
    # the slot cover RT's writes; the ledger records them after.
    stock_noted, reserved_noted = run.ref("no_stock_note") is not None, run.ref("reserved_note") is not None
    async with run.step("reserve_laptop"):
        async with run.in_order(order.model), run.slots([TICKETING_LIMIT]):
            asset = await ticketing.reserve_asset(cfg.catalog, external_ref=external_ref(order.submission_id, "asset"),
                                                  model=order.model, guard=asset_claims(run.ledger, cfg.catalog))
            if asset is None and not stock_noted:
                await ticketing.comment(ticket_id, no_stock_comment(order, catalog=cfg.catalog))
            if asset is not None and not reserved_noted:
                await ticketing.comment(ticket_id, reserved_comment(order, asset))
        if asset is None:
            if not stock_noted:
                await run.remember("no_stock_note", system="ticketing", kind="comment", ref=ticket_id)
            await run.wait_for(f"no free {order.model} in stock", stage=AWAITING_ASSET)
            return "waiting for stock"
        await run.remember("asset", system="ticketing", kind="asset", ref=asset.id, url=asset.url,
                           key=asset.external_ref)
        if not reserved_noted:
            await run.remember("reserved_note", system="ticketing", kind="comment", ref=ticket_id)
        await run.wait_for(f"IT to deliver {asset.name} and resolve the ticket", stage=AWAITING_DELIVERY)
        return f"reserved {asset.name}"


def _due(item: WorkItem) -> bool:
    return item.state == ItemState.PENDING or (
        item.state == ItemState.WAITING and (item.data or {}).get("stage") == AWAITING_ASSET)


@task(name="process orders", cache_policy=NO_CACHE, persist_result=False)
async def process_orders(ports: Connectors) -> list[dict[str, Any]]:
    settings = get_settings()
    ledger = get_ledger(settings)
    items = sorted((i for i in await asyncio.to_thread(ledger.items, service=SERVICE,
                                                       states=[ItemState.PENDING, ItemState.WAITING], limit=None)
                    if _due(i)), key=lambda i: i.requested_at)
    # New orders are read first, side by side, before any takes a ticketing slot: an invalid
    # one is a dead letter at once, not queued behind valid orders waiting for RT.
    invalid = await verdicts([i for i in items if i.state == ItemState.PENDING],
                             lambda item: _invalid(ports, item, settings.laptop.models))
    async with Progress(SERVICE, len(items)) as progress:
        rows = await run_batch([i for i in items if i.id in invalid], ports,
                               turn_down("read_order", lambda run: invalid[run.item.id]), ledger=ledger,
                               settings=settings, key_label="submission", progress=progress)
        # Each order is looked at again when its turn comes: another run may have reserved it (and
        # IT delivered it) since the list was read, and reserving it again would take a second laptop.
        return rows + await run_batch([i for i in items if i.id not in invalid], ports, handle_order, ledger=ledger,
                                      settings=settings, key_label="submission", due=_due, progress=progress)


async def _invalid(ports: Connectors, item: WorkItem, models: Mapping[str, str]) -> InvalidInput | None:
    """Why the order is certainly invalid; None when it is valid or cannot be read now (its
    own handling reads it again, with retries)."""
    try:
        await read_and_check(ports, int(item.source_key), models)
    except InvalidInput as exc:
        return exc
    except HubError:
        return None
    return None


@flow(name="laptop-orders", log_prints=False)
async def laptop_orders() -> dict[str, int]:
    """Collect new laptop orders and move every due order as far as it can go."""
    settings = get_settings()
    async with connect(settings, service=SERVICE) as ports:
        added = await collect_submissions(ports.forms, get_ledger(settings), service=SERVICE,
                                          form_id=settings.laptop.form_id)
        rows = await process_orders(ports)
    if rows:
        await acreate_table_artifact(key="laptop-orders", table=table_for_prefect(rows),
                                     description="Laptop orders handled this run")
    counts = {"new": added, "handled": len(rows),
              "failed": sum(r["state"] == ItemState.FAILED for r in rows)}
    get_run_logger().info("laptop orders: %s", counts)
    return counts
