"""The e-mail telling the manager that their new hire is on the way."""

from __future__ import annotations

from hub.ports.mail import OutgoingMail
from mappings.hire import Hire

__all__ = ["manager_mail"]


def manager_mail(hire: Hire, *, tickets: dict[str, str], laptop: str | None,
                 case_number: str | None, domain: str = "hub.oslomet.no") -> OutgoingMail:
    """``tickets`` maps a ticket's purpose to its id or URL."""
    e = hire.employee
    if hire.manager is None or not hire.manager.email:
        raise ValueError("the hire has no manager with an e-mail address")
    start = e.start_date.strftime("%d.%m.%Y") if e.start_date else "(unknown)"
    lines = [
        f"Hei {hire.manager.first_name},",
        "",
        f"{e.full_name} starts as {hire.title} at {hire.unit_name} on {start}.",
        "The onboarding service has already:",
        f"- filed the personnel file{f' (case {case_number})' if case_number else ''} and sent a welcome letter;",
        *[f"- opened the ticket '{purpose}': {ref}" for purpose, ref in tickets.items()],
        f"- {'allocated laptop ' + laptop if laptop else 'asked IT to find a laptop (none was free)'}.",
        "",
        "Nothing is needed from you now. Please welcome them on their first day.",
        "",
        "— OsloMet tjenesteplattform (automatic message)",
    ]
    return OutgoingMail(
        to=(hire.manager.email,),
        subject=f"New employee in your unit: {e.full_name} starts {start}",
        body="\n".join(lines),
        message_id=f"<onboarding-{e.id}-manager@{domain}>",
    )
