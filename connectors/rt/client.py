"""Request Tracker 5 adapter for :class:`hub.ports.ticketing.TicketingPort` (REST2).

Tickets are found by the custom field ``ExternalRef`` (TicketSQL ``'CF.{ExternalRef}' =
'<value>'``, built by :mod:`connectors.rt.query`), so :meth:`RtTicketing.ensure_ticket`
never opens a second ticket for the same work item: it is :func:`hub.once.ensure_by_key`
(find by the key, ``POST /ticket`` once, after a lost answer look again before trying anew). Subjects, bodies and comments that
contain a fødselsnummer are refused before anything is sent. Assets live in
:mod:`connectors.rt.assets`.

Usage::

    async with RtTicketing(RtConfig(base_url="http://127.0.0.1:8703", token_file=path)) as rt:
        ticket = await rt.ensure_ticket(NewTicket(external_ref="dfo:123", queue="User accounts", ...))
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from connectors.rt.assets import RtAssets
from connectors.rt.config import RtConfig
from connectors.rt.models import RtTicket, rt_due, to_ticket
from connectors.rt.query import QueryValueError, cf, eq
from connectors.rt.rest import SYSTEM, RtRest, parse
from hub.errors import ConfigError, HubError, InvalidInput
from hub.once import ensure_by_key
from hub.ports.common import Health, HealthProbe
from hub.ports.ticketing import AssetsFromRegister, NewTicket, Ticket
from hub.privacy import contains_fnr

__all__ = ["RtTicketing", "TICKET_FIELDS"]

log = logging.getLogger("hub.connectors.rt")

TICKET_FIELDS = {"fields": "Subject,Status,Queue,Due,CustomFields", "fields[Queue]": "Name"}


def _refuse_personal_data(**texts: str | None) -> None:
    for what, text in texts.items():
        if text and contains_fnr(text):
            raise InvalidInput(f"the ticket {what} contains a fødselsnummer; it was not sent to RT",
                               system=SYSTEM,
                               hint=f"Remove the national identity number from the {what}; "
                                    "refer to the person by employee id or name.")


def _ticket_id(ticket_id: str) -> str:
    value = str(ticket_id).strip()
    if not value.isdigit():
        raise InvalidInput(f"not an RT ticket id: {value!r}", system=SYSTEM)
    return value


class RtTicketing(AssetsFromRegister):
    """Tickets and assets in RT 5 through REST2, authenticated with an auth token."""

    system = SYSTEM

    def __init__(self, config: RtConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._rest = RtRest(config, transport)
        self._assets = RtAssets(self._rest)
        self._ensure_locks: dict[str, asyncio.Lock] = {}

    async def __aenter__(self) -> RtTicketing:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._rest.aclose()

    # --- tickets ---------------------------------------------------------------------

    async def _to_ticket(self, raw: RtTicket) -> Ticket:
        queue_name = raw.queue.name if raw.queue and raw.queue.name else None
        if queue_name is None:
            queue_name = await self._rest.queue_name(raw.queue.id) if raw.queue else ""
        return to_ticket(raw, queue_name=queue_name, external_ref_field=self.config.external_ref_field,
                         base_url=self.config.base_url)

    async def find_tickets(self, external_ref: str, *, per_page: int | None = None) -> list[Ticket]:
        """Every ticket whose ExternalRef is exactly ``external_ref``, oldest first."""
        try:
            query = eq(cf(self.config.external_ref_field), external_ref)
        except QueryValueError as exc:
            raise InvalidInput(f"cannot search RT tickets: {exc}", system=SYSTEM) from exc
        items = await self._rest.search("tickets", query, TICKET_FIELDS, per_page=per_page)
        tickets = [await self._to_ticket(parse(RtTicket, item, "a ticket in a search")) for item in items]
        # RT compares custom fields case-insensitively; the hub's keys are exact.
        return [t for t in tickets if t.external_ref == external_ref]

    async def ensure_ticket(self, new: NewTicket) -> Ticket:
        _refuse_personal_data(subject=new.subject, body=new.body)
        payload = self._create_payload(new)

        async def find() -> Ticket | None:
            existing = await self.find_tickets(new.external_ref)
            if len(existing) > 1:
                log.warning("%d RT tickets carry ExternalRef %s; using #%s", len(existing),
                            new.external_ref, existing[0].id)
            return existing[0] if existing else None

        async def create() -> Ticket:
            created = await self._rest.create_once("ticket", payload)  # POST /ticket, sent once
            return await self.get_ticket(str(created["id"]))

        async with self._ensure_locks.setdefault(new.external_ref, asyncio.Lock()):
            ticket = await ensure_by_key(find, create, policy=self.config.policy(), system=SYSTEM,
                                         what=f"the ticket {new.external_ref}")
        if ticket.external_ref != new.external_ref:
            raise ConfigError(f"RT created ticket #{ticket.id} but did not store its "
                              f"{self.config.external_ref_field}", system=SYSTEM,
                              hint=f"Apply the custom field {self.config.external_ref_field} to queue "
                                   f"{new.queue!r} and grant the hub SetInitialCustomField there; then "
                                   f"set it on ticket #{ticket.id} by hand before replaying.")
        return ticket

    def _create_payload(self, new: NewTicket) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "Queue": new.queue,
            "Subject": new.subject,
            "Content": new.body,
            "ContentType": "text/plain",
            "CustomFields": {self.config.external_ref_field: new.external_ref},
        }
        if new.requestor:
            payload["Requestor"] = new.requestor
        if new.due:
            payload["Due"] = rt_due(new.due, self.config.due_time)
        return payload

    async def get_ticket(self, ticket_id: str) -> Ticket:
        body, _ = await self._rest.get(f"ticket/{_ticket_id(ticket_id)}")
        return await self._to_ticket(parse(RtTicket, body, f"ticket #{ticket_id}"))

    async def comment(self, ticket_id: str, text: str) -> None:
        """Add an internal comment (not mailed to the requestor)."""
        _refuse_personal_data(comment=text)
        await self._rest.post(f"ticket/{_ticket_id(ticket_id)}/comment",
                              {"Content": text, "ContentType": "text/plain"})

    async def set_status(self, ticket_id: str, status: str) -> Ticket:
        """Move a ticket to ``status``; a concurrent change (412) raises Conflict."""
        tid = _ticket_id(ticket_id)
        body, etag = await self._rest.get(f"ticket/{tid}")
        current = parse(RtTicket, body, f"ticket #{tid}")
        if current.status == status:
            return await self._to_ticket(current)
        messages = await self._rest.put(f"ticket/{tid}", {"Status": status}, etag=etag)
        ticket = await self.get_ticket(tid)
        if ticket.status != status:
            raise InvalidInput(f"RT kept ticket #{tid} at {ticket.status!r} instead of {status!r}: "
                               f"{'; '.join(messages) or 'no message'}", system=SYSTEM,
                               hint="Use a status of the queue's lifecycle the hub may set.")
        return ticket

    # --- health ----------------------------------------------------------------------

    async def health(self) -> Health:
        """Authenticated ``GET /REST/2.0/rt``: reachable, token accepted, RT version."""
        probe = HealthProbe(SYSTEM)
        try:
            version = await self._rest.version()
        except HubError as exc:
            return probe.failed(exc)
        return probe.ok("REST2 accepted the hub's token", version=version)
