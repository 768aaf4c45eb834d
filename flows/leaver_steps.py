"""The steps of the leaver service, one Prefect task each, each recorded in the ledger.

Writes are idempotent as in onboarding: tickets and journal entries are found by their
external key first; the manager's e-mail is guarded by the ledger.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time

from flows.employment_steps import leader_of, unit_of
from flows.onboarding_steps import TICKETING_LIMIT
from flows.personnel_file import personnel_file_of
from hub.errors import InvalidInput
from hub.flowkit import Run, step_task
from hub.ports.archive import CaseFile
from hub.ports.hr import Employee, OrgUnit
from hub.ports.ticketing import Asset, Ticket
from hub.settings import OSLO
from mappings.hire import Hire
from mappings.leaver import (
    checklist_mail,
    collection_ticket,
    deactivate_ticket,
    end_date_matches,
    end_letter_entry,
    end_letter_pdf,
    return_receipt_entry,
    return_receipt_pdf,
)

__all__ = ["Leaving", "read_leaver", "ensure_personnel_file", "ensure_leaver_tickets", "journal_end_letter",
           "email_checklist", "holders", "laptops_held", "return_laptop", "AWAITING_RETURN"]

AWAITING_RETURN = "awaiting_return"


class Leaving:
    """The leaver as HR has them now. A plain class: Prefect walks dataclass arguments."""

    def __init__(self, employee: Employee, unit: OrgUnit | None, manager: Employee | None, end: date) -> None:
        self.employee, self.unit, self.manager, self.end = employee, unit, manager, end

    @property
    def unit_name(self) -> str:
        return self.unit.name if self.unit else "(unknown unit)"


def holders(employee: Employee) -> list[str]:
    """Whom the asset register may list as holding the employee's laptops (as onboarding
    allocates them: the e-mail address, else username@oslomet.no)."""
    found = [h for h in (employee.email, f"{employee.username}@oslomet.no" if employee.username else None) if h]
    return list(dict.fromkeys(h.lower() for h in found))


async def laptops_held(run: Run, employee: Employee) -> list[Asset]:
    catalog = run.settings.onboarding.laptop_catalog
    found: dict[str, Asset] = {}
    for holder in holders(employee):
        for asset in await run.ports.ticketing.find_assets(catalog, held_by=holder):
            found.setdefault(asset.id, asset)
    return list(found.values())


@step_task("read leaver", ports=("hr",))
async def read_leaver(run: Run, employee_id: str, end: date) -> Leaving | None:
    """The leaver, their unit and manager; None if HR no longer ends the employment on ``end``."""
    async with run.step("read_leaver"):
        hr = run.ports.hr
        employee = await hr.get_employee(employee_id)
        if not end_date_matches(employee, end):
            return None
        unit = await unit_of(hr, employee)
        manager_id = await leader_of(hr, employee, unit)
        manager = await hr.get_employee(manager_id) if manager_id else None
        if manager is None or not manager.email:
            raise InvalidInput(f"employee {employee.id}'s unit has no manager with an e-mail in HR", system="hr",
                               hint="Register the unit's leader in DFØ, then replay the item.")
        return Leaving(employee, unit, manager, end)


@step_task("ensure personnel file", ports=("archive",))
async def ensure_personnel_file(run: Run, leaving: Leaving) -> CaseFile:
    async with run.step("ensure_personnel_file"):
        hire = Hire(employee=leaving.employee, position=None, unit=leaving.unit, manager=leaving.manager)
        case_file = await personnel_file_of(run, hire, series=run.settings.onboarding.archive_series)
        await run.remember("case_file", system="archive", kind="case_file", ref=case_file.system_id, url=case_file.url,
                           key=case_file.external_id)
        return case_file


@step_task("ensure tickets", ports=("ticketing",))
async def ensure_leaver_tickets(run: Run, leaving: Leaving) -> dict[str, Ticket]:
    """"Deactivate user account" for the last working day, and one ticket to collect the
    laptops the leaver holds (none if they hold none)."""
    cfg = run.settings.onboarding
    requestor = leaving.manager.email if leaving.manager else None
    async with run.step("ensure_tickets"), run.slots(TICKETING_LIMIT):
        ticketing = run.ports.ticketing
        tickets = {"ticket_deactivate": await ticketing.ensure_ticket(deactivate_ticket(
            leaving.employee, unit_name=leaving.unit_name, end=leaving.end, queue=cfg.account_queue,
            requestor=requestor))}
        laptops = await laptops_held(run, leaving.employee)
        if laptops:
            tickets["ticket_collect"] = await ticketing.ensure_ticket(collection_ticket(
                leaving.employee, laptops, unit_name=leaving.unit_name, end=leaving.end, queue=cfg.equipment_queue,
                requestor=requestor))
            for asset in laptops:
                await run.remember(f"laptop:{asset.id}", system="ticketing", kind="held_asset", ref=asset.id, url=asset.url)
            await asyncio.to_thread(run.ledger.update_data, run.item.id, laptops=[a.id for a in laptops],
                                    laptop_names=[a.name for a in laptops])
        for name, ticket in tickets.items():
            await run.remember(name, system="ticketing", kind="ticket", ref=ticket.id, url=ticket.url,
                               key=ticket.external_ref)
        return tickets


def _letter_date(run: Run, end: date) -> datetime:
    """The end letter is dated the end date at the start hour: a re-run writes the same bytes."""
    return datetime.combine(end, time(hour=run.settings.onboarding.start_hour), tzinfo=OSLO)


@step_task("journal end letter", ports=("archive",))
async def journal_end_letter(run: Run, leaving: Leaving, case_file: CaseFile) -> None:
    async with run.step("journal_end_letter"):
        when = _letter_date(run, leaving.end)
        pdf = end_letter_pdf(leaving.employee, unit_name=leaving.unit_name, end=leaving.end, date_=when,
                             hr_contact=run.settings.onboarding.hr_contact)
        new = end_letter_entry(leaving.employee, pdf, end=leaving.end, date_=when)
        entry = await run.ports.archive.ensure_journal_entry(case_file, new)
        await run.remember("end_letter", system="archive", kind="journal_entry", ref=entry.system_id, url=entry.url,
                           key=new.external_id)


@step_task("e-mail manager", ports=("mail", "ticketing"))
async def email_checklist(run: Run, leaving: Leaving, case_file: CaseFile, tickets: dict[str, Ticket]) -> None:
    if await run.step_done("email_manager") or leaving.manager is None:
        return  # sent already: an e-mail cannot be taken back
    async with run.step("email_manager"):
        purposes = {"ticket_deactivate": "Deactivate user account", "ticket_collect": "Collect laptop(s)"}
        laptops = [await run.ports.ticketing.get_asset(str(a), run.settings.onboarding.laptop_catalog)
                   for a in (run.ledger.item(run.item.id).data or {}).get("laptops", [])]
        mail = checklist_mail(leaving.employee, leaving.manager, end=leaving.end,
                              tickets={purposes[n]: t.url or f"#{t.id}" for n, t in tickets.items()},
                              laptops=laptops, case_number=case_file.case_number)
        message_id = await run.ports.mail.send(mail)
        await run.remember("manager_email", system="mail", kind="message", ref=message_id)


async def return_laptop(run: Run, employee: Employee, asset_id: str, end: date) -> str:
    """One returned laptop: back in stock, and its receipt in the personnel file."""
    catalog = run.settings.onboarding.laptop_catalog
    async with run.step(f"return_{asset_id}"), run.slots(TICKETING_LIMIT):
        asset = await run.ports.ticketing.get_asset(asset_id, catalog)
        stored = (run.item.data or {}).get(f"returned_{asset_id}")
        when = datetime.fromisoformat(stored) if stored else datetime.now(OSLO)
        await asyncio.to_thread(run.ledger.update_data, run.item.id, **{f"returned_{asset_id}": when.isoformat()})
        hire = Hire(employee=employee, position=None, unit=None, manager=None)
        case_file = await personnel_file_of(run, hire, series=run.settings.onboarding.archive_series)
        new = return_receipt_entry(employee, asset, return_receipt_pdf(employee, asset, date_=when), end=end,
                                   date_=when)
        entry = await run.ports.archive.ensure_journal_entry(case_file, new)
        await run.remember(f"return_receipt:{asset_id}", system="archive", kind="journal_entry", ref=entry.system_id,
                           url=entry.url, key=new.external_id)
        if asset.held_by or asset.external_ref or asset.status != "new":
            await run.ports.ticketing.release_asset(asset_id, catalog)
        return asset.name
