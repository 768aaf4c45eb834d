"""TOPdesk JSON shapes, and their mapping to the ticketing port's models.

Timestamps: TOPdesk writes ``2026-12-01T15:00:00.000+0000`` (UTC offset without colon)
and reads the same. The port speaks ``date``s in Europe/Oslo, so a due date becomes
:attr:`TopdeskConfig.due_time` that day, and a ``targetDate`` reads back as its Oslo date.

Ticket statuses (port ← TOPdesk): the processing status named in
:attr:`TopdeskConfig.status_map` gives the port status (``Logged`` → new, ``In progress``
→ open, ``Waiting for user`` → stalled, ``Closed`` → resolved, ``Rejected`` → rejected);
a processing status the map does not name reads as ``resolved`` when the incident is
closed or completed, ``stalled`` when on hold, else ``open``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from hub.ports.ticketing import Ticket

__all__ = ["OSLO", "TdRef", "TdCaller", "TdIncident", "TdPerson", "TdAction", "td_target_date",
           "parse_td_datetime", "port_status", "to_ticket", "person_label"]

OSLO = ZoneInfo("Europe/Oslo")


class _TdModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)


class TdRef(_TdModel):
    id: str | None = None
    name: str | None = None


class TdCaller(_TdModel):
    id: str | None = None
    dynamic_name: str = Field("", alias="dynamicName")
    email: str | None = None


class TdIncident(_TdModel):
    id: str
    number: str = ""
    brief_description: str = Field("", alias="briefDescription")
    status: str = ""
    caller: TdCaller | None = None
    operator_group: TdRef | None = Field(None, alias="operatorGroup")
    processing_status: TdRef | None = Field(None, alias="processingStatus")
    completed: bool = False
    closed: bool = False
    on_hold: bool = Field(False, alias="onHold")
    target_date: str | None = Field(None, alias="targetDate")
    optional_fields1: dict[str, Any] = Field(default_factory=dict, alias="optionalFields1")
    optional_fields2: dict[str, Any] = Field(default_factory=dict, alias="optionalFields2")

    def optional_text(self, path: str) -> str | None:
        """The value of ``optionalFields1.text1`` and the like; ``None`` when empty."""
        group, _, key = path.partition(".")
        fields = self.optional_fields1 if group == "optionalFields1" else self.optional_fields2
        value = fields.get(key)
        return str(value) if value not in (None, "") else None


class TdPerson(_TdModel):
    id: str
    email: str = ""
    network_login_name: str = Field("", alias="networkLoginName")
    dynamic_name: str = Field("", alias="dynamicName")


class TdAction(_TdModel):
    id: str
    type: str = "action"
    memo_text: str = Field("", alias="memoText")
    entry_date: str | None = Field(None, alias="entryDate")


def person_label(person: TdPerson) -> str:
    """How the port names a holder: e-mail address, else network login name, else name."""
    return person.email or person.network_login_name or person.dynamic_name or person.id


def td_target_date(day: date, at: time) -> str:
    """A due date as TOPdesk reads it: that day at ``at`` Oslo time, written in UTC."""
    moment = datetime.combine(day, at, tzinfo=OSLO).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def parse_td_datetime(value: str | None) -> datetime | None:
    """A TOPdesk timestamp as an Oslo-time datetime; ``None`` for empty."""
    if not value:
        return None
    text = value.strip().replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(OSLO)


def port_status(raw: TdIncident, status_map: dict[str, str]) -> str:
    name = (raw.processing_status.name or "") if raw.processing_status else ""
    for port, td_name in status_map.items():
        if td_name.casefold() == name.casefold():
            return port
    if raw.closed or raw.completed:
        return "resolved"
    return "stalled" if raw.on_hold else "open"


def to_ticket(raw: TdIncident, *, queue: str, status_map: dict[str, str], external_ref_field: str,
              web_root: str) -> Ticket:
    due = parse_td_datetime(raw.target_date)
    return Ticket(
        id=raw.id,
        external_ref=raw.optional_text(external_ref_field),
        queue=queue,
        subject=raw.brief_description,
        status=port_status(raw, status_map),
        due=due.date() if due else None,
        url=f"{web_root}/secure/incident?unid={raw.id}",
    )
