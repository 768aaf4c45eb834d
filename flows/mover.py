"""Movers: an employee changes unit, manager or position; the personnel file and both
managers follow, and the laptop when the campus changes.

Started by the employment-changes router (:mod:`flows.employment`), one run per change
(the item key holds from/to and the effective date: a repeated event is the same item, a
change reversed is a new one):

1. read the employee, the units and positions involved, the old and the new manager;
2. journal a change note in the personnel file (personalmappe);
3. e-mail the old and the new manager, once each;
4. a move to another campus, by someone who holds a laptop: an equipment ticket to move it.
"""

from __future__ import annotations

from prefect import flow
from prefect.client.schemas.objects import State
from prefect.states import Completed

from flows.leaver_steps import laptops_held
from flows.onboarding_steps import TICKETING_LIMIT
from flows.personnel_file import personnel_file_of
from hub.errors import NotFound, PermanentError
from hub.flowkit import Run, step_task, work_item
from hub.ports.archive import CaseFile
from hub.ports.hr import Employee
from hub.settings import OSLO
from mappings.employment import Move
from mappings.hire import Hire
from mappings.mover import Names, campus_ticket, change_note_entry, change_note_pdf, manager_mails

__all__ = ["mover"]

SERVICE = "mover"


class Moving:
    """The mover and what a person reads about the change. A plain class (see flows.leaver_steps)."""

    def __init__(self, employee: Employee, move: Move, names: Names, old: Employee | None,
                 new: Employee | None) -> None:
        self.employee, self.move, self.names, self.old, self.new = employee, move, names, old, new


@step_task("read mover", ports=("hr",))
async def read_mover(run: Run) -> Moving:
    async with run.step("read_mover"):
        data = run.item.data or {}
        if "move" not in data:
            raise PermanentError(f"mover item {run.item.source_key} has no recorded change",
                                 hint="The employment-changes router records it; send HR's event again.")
        move = Move.from_json(data["move"])
        hr = run.ports.hr
        employee = await hr.get_employee(str(data["employee_id"]))

        async def unit_name(unit_id: str | None) -> str:
            try:
                return (await hr.get_org_unit(unit_id)).name if unit_id else "(none)"
            except NotFound:
                return f"unit {unit_id}"

        async def title(position_id: str | None) -> str:
            try:
                return (await hr.get_position(position_id)).title if position_id else "(none)"
            except NotFound:
                return f"position {position_id}"

        async def person(employee_id: str | None) -> Employee | None:
            try:
                return await hr.get_employee(employee_id) if employee_id else None
            except NotFound:
                return None

        names = Names(from_unit=await unit_name(move.from_unit), to_unit=await unit_name(move.to_unit),
                      from_title=await title(move.from_position), to_title=await title(move.to_position))
        return Moving(employee, move, names, await person(move.from_manager), await person(move.to_manager))


@step_task("journal change note", ports=("archive",))
async def journal_change_note(run: Run, moving: Moving) -> CaseFile:
    async with run.step("journal_change_note"):
        hire = Hire(employee=moving.employee, position=None, unit=None, manager=None)
        case_file = await personnel_file_of(run, hire, series=run.settings.onboarding.archive_series)
        await run.remember("case_file", system="archive", kind="case_file", ref=case_file.system_id, url=case_file.url,
                           key=case_file.external_id)
        when = run.item.requested_at.astimezone(OSLO)  # the same bytes on a re-run
        new = change_note_entry(moving.employee, change_note_pdf(moving.employee, moving.move, moving.names,
                                                                 date_=when), run.item.source_key, date_=when)
        entry = await run.ports.archive.ensure_journal_entry(case_file, new)
        await run.remember("change_note", system="archive", kind="journal_entry", ref=entry.system_id, url=entry.url,
                           key=new.external_id)
        return case_file


@step_task("e-mail managers", ports=("mail",))
async def email_managers(run: Run, moving: Moving) -> int:
    sent = 0
    for role, mail in manager_mails(moving.employee, moving.move, moving.names, run.item.source_key,
                                    old=moving.old, new=moving.new):
        step = f"email_{role}_manager"
        if await run.step_done(step):
            continue  # sent already: an e-mail cannot be taken back
        async with run.step(step):
            await run.remember(f"{role}_manager_email", system="mail", kind="message", ref=await run.ports.mail.send(mail))
            sent += 1
    return sent


@step_task("ensure equipment ticket", ports=("ticketing",))
async def ensure_campus_ticket(run: Run, moving: Moving) -> str | None:
    if not moving.move.campus_changed:
        return None
    async with run.step("ensure_equipment_ticket"), run.slots(TICKETING_LIMIT):
        laptops = await laptops_held(run, moving.employee)
        if not laptops:
            return None
        ticket = await run.ports.ticketing.ensure_ticket(campus_ticket(
            moving.employee, moving.move, laptops, run.item.source_key, queue=run.settings.onboarding.equipment_queue,
            requestor=moving.new.email if moving.new else None))
        await run.remember("ticket_equipment", system="ticketing", kind="ticket", ref=ticket.id, url=ticket.url,
                           key=ticket.external_ref)
        return ticket.id


@flow(name="mover", flow_run_name="mover-{mover_key}", log_prints=False)
async def mover(mover_key: str) -> str | State:
    """Follow one change of unit, manager or position."""
    async with work_item(SERVICE, mover_key, title=f"Mover {mover_key.split(':')[0]}") as run:
        if run.already_done:
            return Completed(message="already done; nothing new written")
        moving = await read_mover(run)
        await journal_change_note(run, moving)
        await email_managers(run, moving)
        ticket = await ensure_campus_ticket(run, moving)
    return "change recorded" + (f"; equipment ticket #{ticket}" if ticket else "")
