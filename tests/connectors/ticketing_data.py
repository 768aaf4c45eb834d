"""Test data shared by the ticketing adapters' tests (RT and TOPdesk): same port, same inputs."""

from __future__ import annotations

import uuid
from datetime import date

from hub.ports.ticketing import NewTicket

__all__ = ["FNR", "new_ref", "new_ticket"]

FNR = "01017012345"  # fødselsnummer-shaped


def new_ref() -> str:
    """A fresh external reference, so every test starts from an unseen key."""
    return f"test:{uuid.uuid4().hex[:12]}"


def new_ticket(ref: str, **overrides: object) -> NewTicket:
    fields: dict[str, object] = {
        "external_ref": ref, "queue": "User accounts", "subject": "Brukerkonto for ny ansatt",
        "body": "Opprett brukerkonto. Startdato 2026-12-01.", "requestor": "leder@oslomet.test",
        "due": date(2026, 12, 1)}
    fields.update(overrides)
    return NewTicket.model_validate(fields)
