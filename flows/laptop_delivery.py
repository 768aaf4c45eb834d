"""Levere laptop: follow up reserved laptops until IT has handed them over.

``laptop-delivery`` (scheduled) checks every order waiting for delivery. When its RT ticket
is resolved and the reserved laptop is HeldBy the employee, it journals a delivery receipt
(a generated PDF) in the employee's personnel file — creating the file if there is none —
and e-mails the requester. A ticket IT rejected ends the order as failed, with the reason.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE

from flows.laptop_order import AWAITING_DELIVERY, SERVICE
from flows.personnel_file import personnel_file_of
from hub.errors import PermanentError
from hub.flowkit import Run, run_batch
from hub.ledger import ItemState
from hub.settings import OSLO, get_settings
from hub.text import table_for_prefect
from hub.wiring import Connectors, connect, get_ledger
from mappings.hire import Hire
from mappings.laptop import (
    LaptopOrder,
    awaited_delivery,
    delivered_mail,
    read_order,
    receipt_entry,
    receipt_pdf,
)

__all__ = ["laptop_delivery", "follow_up_delivery"]


async def follow_up_delivery(run: Run) -> str:
    ports, cfg = run.ports, run.settings.laptop
    data = run.item.data or {}
    ticket_ref, asset_ref = run.ref("ticket"), run.ref("asset")
    if not ticket_ref or not asset_ref:
        raise PermanentError(f"laptop order {run.item.source_key} waits for delivery but has no ticket/asset "
                             "in the ledger", hint="Replay the order so it is reserved again.")
    async with run.step("check_delivery"):
        ticket = await ports.ticketing.get_ticket(ticket_ref)
        if ticket.status in ("rejected", "deleted"):
            raise PermanentError(f"IT {ticket.status} RT ticket #{ticket.id} for laptop order {run.item.source_key}",
                                 system="ticketing", hint="See the ticket for why; the requester may order again.")
        asset = await ports.ticketing.get_asset(asset_ref, cfg.catalog)
        if awaited := awaited_delivery(ticket, asset, feide=str(data.get("feide", ""))):
            await run.wait_for(awaited, stage=AWAITING_DELIVERY)
            return "not delivered yet"
    employee = await ports.hr.get_employee(str(data["employee_id"]))
    submission = await ports.forms.get_submission(int(run.item.source_key))
    order, _ = read_order(submission, models=cfg.models)
    if order is None:
        raise PermanentError(f"laptop order {run.item.source_key} no longer reads as a valid order")
    await _file_receipt(run, order, employee, asset)
    if not await run.step_done("email_requester"):
        async with run.step("email_requester"):
            message_id = await ports.mail.send(delivered_mail(order, employee, asset))
            await run.remember("delivered_email", system="mail", kind="message", ref=message_id)
    return f"delivered {asset.name}"


async def _file_receipt(run: Run, order: LaptopOrder, employee: Any, asset: Any) -> None:
    async with run.step("journal_receipt"):
        stored = (run.item.data or {}).get("delivered_at")
        date = datetime.fromisoformat(stored) if stored else datetime.now(OSLO)
        await asyncio.to_thread(run.ledger.update_data, run.item.id, delivered_at=date.isoformat())
        hire = Hire(employee=employee, position=None, unit=None, manager=None)
        case = await personnel_file_of(run, hire, series=run.settings.laptop.archive_series)
        await run.remember("case_file", system="archive", kind="case_file", ref=case.system_id, url=case.url,
                           key=case.external_id)
        entry = await run.ports.archive.ensure_journal_entry(
            case, receipt_entry(order, employee, receipt_pdf(order, employee, asset, date=date), date=date))
        await run.remember("receipt", system="archive", kind="journal_entry", ref=entry.system_id, url=entry.url,
                           key=entry.external_id)


@task(name="follow up deliveries", cache_policy=NO_CACHE, persist_result=False)
async def follow_up_deliveries(ports: Connectors) -> list[dict[str, Any]]:
    settings = get_settings()
    ledger = get_ledger(settings)
    waiting = [i for i in await asyncio.to_thread(ledger.items, service=SERVICE, states=[ItemState.WAITING],
                                                  limit=None) if (i.data or {}).get("stage") == AWAITING_DELIVERY]
    return await run_batch(waiting, ports, follow_up_delivery, ledger=ledger, settings=settings,
                           key_label="submission")


@flow(name="laptop-delivery", log_prints=False)
async def laptop_delivery() -> dict[str, int]:
    """File receipts and notify requesters for every laptop IT has handed over."""
    settings = get_settings()
    async with connect(settings, service=SERVICE) as ports:
        rows = await follow_up_deliveries(ports)
    if rows:
        await acreate_table_artifact(key="laptop-delivery", table=table_for_prefect(rows),
                                     description="Deliveries checked this run")
    counts = {"checked": len(rows), "delivered": sum(r["state"] == ItemState.DONE for r in rows)}
    get_run_logger().info("laptop deliveries: %s", counts)
    return counts
