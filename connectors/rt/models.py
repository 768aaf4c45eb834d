"""RT REST2 JSON shapes, and their mapping to the ticketing port's models.

REST2 writes dates as W3CDTF in UTC (``2026-12-01T15:00:00Z``), with the Unix epoch for
"not set"; it reads ``Due`` on create as ``YYYY-MM-DD HH:MM:SS`` in UTC. The port speaks
``date``s in Europe/Oslo, so a due date becomes :attr:`RtConfig.due_time` that day.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from hub.ports.ticketing import Asset, Ticket

__all__ = [
    "OSLO",
    "RtRef",
    "RtCustomField",
    "RtTicket",
    "RtAsset",
    "rt_due",
    "parse_rt_datetime",
    "to_ticket",
    "to_asset",
]

OSLO = ZoneInfo("Europe/Oslo")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class _RtModel(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True, coerce_numbers_to_str=True)


class RtRef(_RtModel):
    """A hyperlink to another record: ``{"type", "id", "_url"}`` plus requested sub-fields."""

    id: str
    type: str | None = None
    url: str | None = Field(None, alias="_url")
    name: str | None = Field(None, alias="Name")
    email: str | None = Field(None, alias="EmailAddress")


class RtCustomField(_RtModel):
    id: str
    name: str
    values: list[Any] = Field(default_factory=list)


class _WithCustomFields(_RtModel):
    custom_fields: list[RtCustomField] = Field(default_factory=list, alias="CustomFields")

    def cf(self, name: str) -> str | None:
        for custom_field in self.custom_fields:
            # RT answers [null] for a value it has deleted (a laptop put back in stock).
            values = [v for v in custom_field.values if v is not None and v != ""]
            if custom_field.name == name and values:
                return str(values[0])
        return None


class RtTicket(_WithCustomFields):
    id: str
    subject: str = Field("", alias="Subject")
    status: str = Field("", alias="Status")
    queue: RtRef | None = Field(None, alias="Queue")
    due: str | None = Field(None, alias="Due")


class RtAsset(_WithCustomFields):
    id: str
    name: str = Field("", alias="Name")
    status: str = Field("", alias="Status")
    catalog: RtRef | None = Field(None, alias="Catalog")
    held_by: list[RtRef] = Field(default_factory=list, alias="HeldBy")


def rt_due(day: date, at: time) -> str:
    """A due date as RT reads it on create: that day at ``at`` Oslo time, in UTC."""
    local = datetime.combine(day, at, tzinfo=OSLO)
    return local.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def parse_rt_datetime(value: str | None) -> datetime | None:
    """RT's W3CDTF timestamp as an Oslo-time datetime; ``None`` for unset (epoch)."""
    if not value:
        return None
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    if parsed <= _EPOCH:
        return None
    return parsed.astimezone(OSLO)


def to_ticket(raw: RtTicket, *, queue_name: str, external_ref_field: str, base_url: str) -> Ticket:
    due = parse_rt_datetime(raw.due)
    return Ticket(
        id=raw.id,
        external_ref=raw.cf(external_ref_field),
        queue=queue_name,
        subject=raw.subject,
        status=raw.status,
        due=due.date() if due else None,
        url=f"{base_url}/Ticket/Display.html?id={raw.id}",
    )


def to_asset(raw: RtAsset, *, catalog_name: str, external_ref_field: str, model_field: str,
             base_url: str) -> Asset:
    return Asset(
        id=raw.id,
        name=raw.name,
        catalog=catalog_name,
        status=raw.status,
        model=raw.cf(model_field),
        held_by=[ref.email or ref.name or ref.id for ref in raw.held_by],
        external_ref=raw.cf(external_ref_field),
        url=f"{base_url}/Asset/Display.html?id={raw.id}",
    )
