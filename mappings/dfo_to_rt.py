"""HR (DFØ) hire → tickets and equipment: "Create user account", "Deliver laptop".

Subjects and bodies carry the name, unit, title and start date — never a fødselsnummer.
Both tickets are due on the start date.
"""

from __future__ import annotations

from hub.ports.ticketing import NewTicket
from mappings.hire import Hire, external_ids

__all__ = ["account_ticket", "laptop_ticket", "laptop_holder", "allocated_comment", "NO_FREE_LAPTOP"]


def _start(hire: Hire) -> str:
    return hire.start.isoformat() if hire.start else "start date unknown"


def _facts(hire: Hire) -> list[str]:
    e = hire.employee
    return [
        f"Name: {e.full_name}",
        f"DFØ employee id: {e.id}",
        f"Username: {e.username or '(not assigned)'}",
        f"E-mail: {e.email or '(none)'}",
        f"Position: {hire.title}",
        f"Unit: {hire.unit_name}",
        f"Start date: {_start(hire)}",
        f"Manager: {hire.manager.full_name if hire.manager else '(unknown)'}",
    ]


def account_ticket(hire: Hire, *, queue: str) -> NewTicket:
    e = hire.employee
    body = "\n".join([
        "A new employee starts soon. Create the user account before the start date.",
        "",
        *_facts(hire),
        "",
        "Opened automatically by the onboarding service (tjenesteplattform hub).",
    ])
    return NewTicket(
        external_ref=external_ids.account_ticket(e.id),
        queue=queue,
        subject=f"Create user account: {e.full_name} (starts {_start(hire)})",
        body=body,
        requestor=hire.manager.email if hire.manager else None,
        due=hire.start,
    )


def laptop_ticket(hire: Hire, *, queue: str, asset_name: str | None = None) -> NewTicket:
    e = hire.employee
    allocation = (f"Allocated laptop: {asset_name}" if asset_name
                  else "No free laptop was found at the time of opening; allocate one by hand.")
    body = "\n".join([
        "Deliver a laptop to the new employee by the start date.",
        "",
        *_facts(hire),
        allocation,
        "",
        "Opened automatically by the onboarding service (tjenesteplattform hub).",
    ])
    return NewTicket(
        external_ref=external_ids.laptop_ticket(e.id),
        queue=queue,
        subject=f"Deliver laptop: {e.full_name} (starts {_start(hire)})",
        body=body,
        requestor=hire.manager.email if hire.manager else None,
        due=hire.start,
    )


def laptop_holder(hire: Hire) -> tuple[str, str]:
    """(holder, external ref) for allocating a laptop to the new employee."""
    e = hire.employee
    holder = e.email or f"{e.username}@oslomet.no"
    return holder, external_ids.laptop(e.id)


NO_FREE_LAPTOP = "No free laptop in the catalog right now: allocate one by hand and set HeldBy."


def allocated_comment(asset_name: str, model: str | None, holder: str) -> str:
    """The laptop ticket's note once a laptop is allocated to the new hire."""
    return f"Allocated laptop {asset_name}{f' ({model})' if model else ''}, held by {holder}."
