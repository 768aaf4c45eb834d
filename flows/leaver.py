"""Leavers (end of employment): the personnel file, the tickets and the laptop follow.

``leaver`` runs on the end date (sluttdato) at the start hour, scheduled by the
employment-changes router (:mod:`flows.employment`) like a future gyldigEtter:

1. re-read the employee from HR — an end date no longer the one scheduled stops the run
   cleanly, with nothing written (the router has scheduled the new date, if any);
2. ensure the personnel file (personalmappe);
3. ensure the ticket "Deactivate user account", due on the last working day, and one ticket
   to collect the laptop(s) the person holds in the asset register;
4. journal the end-of-employment letter (sluttbrev, PDF) in the personnel file;
5. e-mail the manager a checklist;
6. with laptops out, wait for IT to collect them: ``laptop-returns`` (every five minutes)
   sees the collection ticket resolved, puts each laptop back in stock — free for the next
   hire — and journals a return receipt (innleveringskvittering) in the personnel file.

The item is keyed ``<employee id>:<sluttdato>:<generation>`` (:func:`mappings.employment.leaver_key`).
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.states import Completed

from flows.employment_steps import LEAVER
from flows.leaver_steps import (
    AWAITING_RETURN,
    email_checklist,
    ensure_leaver_tickets,
    ensure_personnel_file,
    journal_end_letter,
    read_leaver,
    return_laptop,
)
from hub.errors import PermanentError
from hub.flowkit import Run, run_batch, work_item
from hub.ledger import ItemState
from hub.settings import get_settings
from hub.text import table_for_prefect
from hub.wiring import Connectors, connect, get_ledger

__all__ = ["leaver", "laptop_returns", "follow_up_return"]


def _parse(leaver_key: str) -> tuple[str, date]:
    employee_id, end, _generation = leaver_key.split(":")
    return employee_id, date.fromisoformat(end)


@flow(name="leaver", flow_run_name="leaver-{leaver_key}", log_prints=False)
async def leaver(leaver_key: str) -> str | State:
    """Offboard one employee whose employment ends (run on the sluttdato)."""
    employee_id, end = _parse(leaver_key)
    async with work_item(LEAVER, leaver_key, title=f"Leaver: DFØ employee {employee_id}, sluttdato {end}") as run:
        if run.already_done:
            return Completed(message=(run.item.data or {}).get("outcome") or "already done; nothing new written")
        leaving = await read_leaver(run, employee_id, end)
        if leaving is None:
            await asyncio.to_thread(run.ledger.update_data, run.item.id,
                                    outcome=f"stopped: HR no longer ends the employment on {end}")
            return Completed(message=f"HR no longer ends the employment on {end}; nothing written")
        case_file = await ensure_personnel_file(run, leaving)
        tickets = await ensure_leaver_tickets(run, leaving)
        await journal_end_letter(run, leaving, case_file)
        await email_checklist(run, leaving, case_file, tickets)
        if "ticket_collect" in tickets:
            await run.wait_for(f"IT to collect the laptop(s) and resolve ticket #{tickets['ticket_collect'].id}",
                         stage=AWAITING_RETURN)
            return "offboarded; waiting for the laptop(s) to be returned"
    return "offboarded"


async def follow_up_return(run: Run) -> str:
    """One leaver waiting for laptops: once IT resolves the collection ticket, each laptop goes
    back in stock with a receipt in the personnel file."""
    data = run.item.data or {}
    ticket_id = run.ref("ticket_collect")
    if not ticket_id:
        raise PermanentError(f"leaver {run.item.source_key} waits for laptops but has no collection ticket",
                             hint="Replay the item so the ticket is opened again.")
    async with run.step("check_return"):
        ticket = await run.ports.ticketing.get_ticket(ticket_id)
        if ticket.status in ("rejected", "deleted"):
            raise PermanentError(f"IT {ticket.status} the laptop collection ticket #{ticket.id}", system="ticketing",
                                 hint="See the ticket; return the laptops to stock by hand, then replay.")
        if ticket.status != "resolved":
            await run.wait_for(f"IT to collect the laptop(s) and resolve ticket #{ticket.id}", stage=AWAITING_RETURN)
            return "not returned yet"
    employee_id, end = _parse(run.item.source_key)
    employee = await run.ports.hr.get_employee(employee_id)
    names = [await return_laptop(run, employee, str(asset_id), end) for asset_id in data.get("laptops", [])]
    return f"returned {', '.join(names)}"


@task(name="follow up returns", cache_policy=NO_CACHE, persist_result=False)
async def follow_up_returns(ports: Connectors) -> list[dict[str, Any]]:
    settings = get_settings()
    ledger = get_ledger(settings)
    waiting = [i for i in await asyncio.to_thread(ledger.items, service=LEAVER, states=[ItemState.WAITING],
                                                  limit=None) if (i.data or {}).get("stage") == AWAITING_RETURN]
    return await run_batch(waiting, ports, follow_up_return, ledger=ledger, settings=settings, key_label="leaver")


@flow(name="laptop-returns", log_prints=False)
async def laptop_returns() -> dict[str, int]:
    """Put laptops IT has collected from leavers back in stock, with a receipt each."""
    settings = get_settings()
    async with connect(settings, service=LEAVER) as ports:
        rows = await follow_up_returns(ports)
    if rows:
        await acreate_table_artifact(key="laptop-returns", table=table_for_prefect(rows),
                                     description="Leavers' laptop returns checked this run")
    counts = {"checked": len(rows), "returned": sum(r["state"] == ItemState.DONE for r in rows)}
    get_run_logger().info("laptop returns: %s", counts)
    return counts
