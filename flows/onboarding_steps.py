"""The steps of onboarding, one Prefect task each (plain calls in a burst's run), each recorded in the ledger.

Every write is idempotent: it looks up by external key first (the archive's
``virksomhetsspesifikkeMetadata``, RT's ``ExternalRef``), so a retried or replayed step
finds its record instead of writing a second one. E-mails and ticket comments, which no
target can deduplicate, are guarded by the ledger.
"""

from __future__ import annotations

from prefect.artifacts import acreate_markdown_artifact

from flows.personnel_file import personnel_file_of
from hub.errors import InvalidInput, NotFound
from hub.flowkit import Run, step_task
from hub.leases import asset_claims
from hub.ports.archive import CaseFile
from hub.ports.hr import Employee, OrgUnit
from hub.ports.ticketing import Asset, Ticket
from hub.settings import OSLO
from hub.text import for_prefect, markdown_link
from mappings.dfo_to_noark import welcome_letter_entry, welcome_letter_pdf
from mappings.dfo_to_rt import NO_FREE_LAPTOP, account_ticket, allocated_comment, laptop_holder, laptop_ticket
from mappings.hire import Hire, employee_problems, identity_note, leader_id, manager_problem
from mappings.onboarding_mail import manager_mail

__all__ = ["fetch_employee", "validate_hire", "ensure_personnel_file", "journal_welcome_letter",
           "ensure_onboarding_tickets", "allocate_laptop", "email_manager", "publish_summary", "onboarding_summary"]

# Global concurrency limits, named after the port (their slots are declared in the catalog):
TICKETING_LIMIT = "ticketing"  # writes to the ticketing system (RT on SQLite is slow: never hammer it)

@step_task("fetch employee", ports=("hr",))
async def fetch_employee(run: Run, employee_id: str, read: Employee | None = None) -> Employee:
    """HR's record of the employee; ``read``, if the run has just read it (a new hire's, read
    to tell a hire from another change), is not read again."""
    async with run.step("fetch_employee"):
        return read if read is not None else await run.ports.hr.get_employee(employee_id)


@step_task("validate hire", ports=("hr",))
async def validate_hire(run: Run, employee: Employee) -> Hire:
    """Check HR's data is complete enough to onboard, and read position, unit and manager."""
    async with run.step("validate"):
        if problems := employee_problems(employee,
                                         accept_synthetic=run.settings.onboarding.accept_synthetic_ids):
            raise InvalidInput(f"HR data for employee {employee.id} is incomplete: " + "; ".join(problems),
                               system="hr", hint="Correct the employee in DFØ, then replay the item.")
        if note := identity_note(employee):  # a foreign hire without a Norwegian number yet
            run.notes.append(note)
            run.ledger.update_data(run.item.id, identified_by=employee.identified_by, identity_note=note)
        hr = run.ports.hr
        position = None
        if employee.position_id:
            try:
                position = await hr.get_position(employee.position_id)
            except NotFound:
                position = None  # the title from the employee record is enough
        unit = await hr.get_org_unit(employee.org_unit_id or "")
        manager = await _manager_of(run, employee, unit)
        if problem := manager_problem(unit, manager):
            raise InvalidInput(problem, system="hr", hint="Register the unit's leader in DFØ, then replay the item.")
        return Hire(employee=employee, position=position, unit=unit, manager=manager)


async def _manager_of(run: Run, employee: Employee, unit: OrgUnit) -> Employee | None:
    """The leader the hire reports to (:func:`mappings.hire.leader_id`), up the units."""
    if manager_id := leader_id(employee, unit):
        return await run.ports.hr.get_employee(manager_id)
    if unit.parent_id:
        return await _manager_of(run, employee, await run.ports.hr.get_org_unit(unit.parent_id))
    return None


@step_task("ensure personnel file", ports=("archive",))
async def ensure_personnel_file(run: Run, hire: Hire) -> CaseFile:
    async with run.step("ensure_personnel_file"):
        case_file = await personnel_file_of(run, hire, series=run.settings.onboarding.archive_series)
        await run.remember("case_file", system="archive", kind="case_file", ref=case_file.system_id,
                           url=case_file.url, key=case_file.external_id)
        return case_file


@step_task("journal welcome letter", ports=("archive",))
async def journal_welcome_letter(run: Run, hire: Hire, case_file: CaseFile) -> None:
    async with run.step("journal_welcome_letter"):
        # The letter is dated by the request, so a re-run produces the same bytes.
        letter_date = run.item.requested_at.astimezone(OSLO)
        pdf = welcome_letter_pdf(hire, date=letter_date, hr_contact=run.settings.onboarding.hr_contact)
        new = welcome_letter_entry(hire, pdf, date=letter_date)
        entry = await run.ports.archive.ensure_journal_entry(case_file, new)
        await run.remember("welcome_letter", system="archive", kind="journal_entry", ref=entry.system_id,
                           url=entry.url, key=new.external_id)


@step_task("ensure tickets", ports=("ticketing",))
async def ensure_onboarding_tickets(run: Run, hire: Hire) -> dict[str, Ticket]:
    cfg = run.settings.onboarding
    async with run.step("ensure_tickets"):
        async with run.slots(TICKETING_LIMIT):  # RT's writes; the ledger's records of them after
            tickets = {
                "ticket_account": await run.ports.ticketing.ensure_ticket(account_ticket(hire, queue=cfg.account_queue)),
                "ticket_laptop": await run.ports.ticketing.ensure_ticket(laptop_ticket(hire, queue=cfg.equipment_queue)),
            }
        for name, ticket in tickets.items():
            await run.remember(name, system="ticketing", kind="ticket", ref=ticket.id, url=ticket.url,
                               key=ticket.external_ref)
        return tickets


@step_task("allocate laptop", ports=("ticketing",))
async def allocate_laptop(run: Run, hire: Hire, tickets: dict[str, Ticket]) -> Asset | None:
    ticketing = run.ports.ticketing
    catalog = run.settings.onboarding.laptop_catalog
    laptop_ticket_id = tickets["ticket_laptop"].id
    noted = run.ref("laptop_note") is not None
    async with run.step("allocate_laptop"):
        holder, ref = laptop_holder(hire)
        # The slot covers RT's writes only (the one shared bound of the onboarding burst); the
        # ledger records them after it is given back. A run that dies in between finds the
        # laptop again by its ExternalRef and may comment twice, as it could before.
        async with run.slots([TICKETING_LIMIT]):
            asset = await ticketing.allocate_asset(catalog, holder=holder, external_ref=ref,
                                                   model=run.settings.onboarding.laptop_model,
                                                   guard=asset_claims(run.ledger, catalog))
            if not noted:
                await ticketing.comment(laptop_ticket_id, NO_FREE_LAPTOP if asset is None
                                        else allocated_comment(asset.name, asset.model, holder))
        if asset is not None:
            await run.remember("laptop", system="ticketing", kind="asset", ref=asset.id, url=asset.url,
                               key=asset.external_ref)
        if not noted:
            await run.remember("laptop_note", system="ticketing", kind="comment", ref=laptop_ticket_id)
            if asset is None:
                await run.manual_step("no free laptop: IT allocates one by hand")
        return asset


@step_task("e-mail manager", ports=("mail",))
async def email_manager(run: Run, hire: Hire, case_file: CaseFile, tickets: dict[str, Ticket],
                        laptop: Asset | None) -> None:
    if await run.step_done("email_manager"):
        return  # sent already; an e-mail cannot be taken back or deduplicated by the receiver
    async with run.step("email_manager"):
        mail = manager_mail(hire, tickets={"Create user account": _ticket_ref(tickets["ticket_account"]),
                                           "Deliver laptop": _ticket_ref(tickets["ticket_laptop"])},
                            laptop=laptop.name if laptop else None, case_number=case_file.case_number)
        message_id = await run.ports.mail.send(mail)
        await run.remember("manager_email", system="mail", kind="message", ref=message_id)


def _ticket_ref(ticket: Ticket) -> str:
    return ticket.url or f"#{ticket.id}"


@step_task("publish summary")
async def publish_summary(run: Run, hire: Hire) -> None:
    """A markdown artifact for operators: what was written where (no personal numbers)."""
    refs = run.ledger.item(run.item.id).refs
    await acreate_markdown_artifact(
        key=f"onboarding-{hire.employee.id}",
        description=f"Onboarding of DFØ employee {for_prefect(hire.employee.id, inline=True)}",
        markdown=onboarding_summary(hire, [(r.name, r.system, r.ref, r.url) for r in refs], run.notes),
    )


def onboarding_summary(hire: Hire, refs: list[tuple[str, str, str, str | None]], notes: list[str]) -> str:
    """The summary's markdown. HR's text (name, title, unit) and every note are masked and
    escaped: the Prefect UI renders markdown with raw HTML."""
    def cell(text: object) -> str:
        return for_prefect(text, inline=True)

    rows = "\n".join(f"| {cell(name)} | {cell(system)} | {markdown_link(ref, url) if url else cell(ref)} |"
                     for name, system, ref, url in refs)
    listed = "\n".join(f"- {for_prefect(n, inline=True)}" for n in notes) or "- none"
    return (f"# Onboarding of {for_prefect(hire.employee.full_name, inline=True)}\n\n"
            f"Starts **{hire.start}** as {for_prefect(hire.title, inline=True)} at "
            f"{for_prefect(hire.unit_name, inline=True)}.\n\n"
            f"| record | system | reference |\n|---|---|---|\n{rows}\n\n"
            f"**Manual steps:**\n{listed}\n")
