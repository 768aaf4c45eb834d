"""TOPdesk adapter for :class:`hub.ports.ticketing.TicketingPort` (incidents + assets).

A ticket is a TOPdesk *incident*; ``Ticket.id`` is the incident's UUID (``get_ticket``
also takes the number, ``I 2611 001``). The hub's external reference lives in an optional
text field (:attr:`TopdeskConfig.external_ref_field`, default ``optionalFields1.text1``),
so :meth:`TopdeskTicketing.ensure_ticket` finds an incident again instead of opening a
second one. Queues map to operator groups; the port's statuses map to processing
statuses (see :mod:`connectors.topdesk.models`). Subjects, bodies and comments holding a
fødselsnummer are refused before anything is sent. A subject longer than TOPdesk's 80
characters is shortened with ``…`` in ``briefDescription``; the full subject then heads
the request text. Assets live in :mod:`connectors.topdesk.assets`.

Usage::

    async with TopdeskTicketing(TopdeskConfig(base_url=".../tas/api", username="hub",
                                              app_password=SecretStr("..."))) as topdesk:
        ticket = await topdesk.ensure_ticket(NewTicket(external_ref="dfo:123", queue="User accounts", ...))
"""

from __future__ import annotations

import asyncio
import logging
import re
import urllib.parse
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from connectors.topdesk import fiql
from connectors.topdesk.assets import TopdeskAssets
from connectors.topdesk.config import TopdeskConfig
from connectors.topdesk.models import (
    TdAction,
    TdIncident,
    parse_td_datetime,
    port_status,
    td_target_date,
    to_ticket,
)
from connectors.topdesk.rest import SYSTEM, TopdeskRest, parse
from hub.errors import ConfigError, HubError, InvalidInput
from hub.once import create_once, ensure_by_key
from hub.ports.common import Health, HealthProbe
from hub.ports.ticketing import AssetsFromRegister, NewTicket, Ticket
from hub.privacy import contains_fnr

__all__ = ["TopdeskTicketing", "BRIEF_MAX", "REF_MAX"]

log = logging.getLogger("hub.connectors.topdesk")

BRIEF_MAX = 80  # TOPdesk's limit on briefDescription
REF_MAX = 100  # TOPdesk's limit on an optional text field
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_NUMBER = re.compile(r"^[A-Za-z]{0,2}\s?\d{4}[\s-]\d{2,6}$")


def _refuse_personal_data(**texts: str | None) -> None:
    for what, text in texts.items():
        if text and contains_fnr(text):
            raise InvalidInput(f"the ticket {what} contains a fødselsnummer; it was not sent to TOPdesk",
                               system=SYSTEM,
                               hint=f"Remove the national identity number from the {what}; "
                                    "refer to the person by employee id or name.")


def incident_path(ticket_id: str) -> str:
    """``incidents/id/<uuid>`` or ``incidents/number/<number>``; anything else is refused."""
    value = str(ticket_id).strip()
    if _UUID.match(value):
        return f"incidents/id/{value.lower()}"
    if _NUMBER.match(value):
        return f"incidents/number/{urllib.parse.quote(value, safe='')}"
    raise InvalidInput(f"not a TOPdesk incident id or number: {value!r}", system=SYSTEM)


class TopdeskTicketing(AssetsFromRegister):
    """Incidents and Asset Management assets in TOPdesk, with an application password."""

    system = SYSTEM

    def __init__(self, config: TopdeskConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._rest = TopdeskRest(config, transport)
        self._assets = TopdeskAssets(self._rest)
        self._ensure_locks: dict[str, asyncio.Lock] = {}

    async def __aenter__(self) -> TopdeskTicketing:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._rest.aclose()

    # --- tickets ---------------------------------------------------------------------

    def _ticket(self, raw: TdIncident) -> Ticket:
        group = (raw.operator_group.name or "") if raw.operator_group else ""
        return to_ticket(raw, queue=self.config.queue_of(group), status_map=self.config.status_map,
                         external_ref_field=self.config.external_ref_field, web_root=self.config.web_root)

    async def find_tickets(self, external_ref: str, *, per_page: int | None = None) -> list[Ticket]:
        """Every incident whose external reference is exactly ``external_ref``, oldest first."""
        try:
            query = fiql.eq(self.config.external_ref_field, external_ref)
        except fiql.QueryValueError as exc:
            raise InvalidInput(f"cannot search TOPdesk incidents: {exc}", system=SYSTEM) from exc
        items = await self._rest.walk("incidents", {"query": query, "sort": "creationDate:asc"},
                                      page_size=per_page)
        tickets = [self._ticket(parse(TdIncident, item, "an incident in a search")) for item in items]
        # TOPdesk compares case-insensitively and reads '*' as a wildcard; the hub's keys are exact.
        return [t for t in tickets if t.external_ref == external_ref]

    async def ensure_ticket(self, new: NewTicket) -> Ticket:
        _refuse_personal_data(subject=new.subject, body=new.body)
        if not new.external_ref or len(new.external_ref) > REF_MAX:
            raise InvalidInput(f"external reference must have 1..{REF_MAX} characters (TOPdesk's optional "
                               f"text field limit), got {len(new.external_ref)}", system=SYSTEM)
        payload: dict[str, Any] | None = None  # built once, and only if the incident is not there

        async def find() -> Ticket | None:
            found = await self.find_tickets(new.external_ref)
            if len(found) > 1:
                log.warning("%d TOPdesk incidents carry external reference %s; using %s", len(found),
                            new.external_ref, found[0].id)
            return found[0] if found else None

        async def create() -> Ticket:
            nonlocal payload
            if payload is None:
                payload = await self._create_payload(new)
            created = await self._rest.send_once("POST", "incidents", payload)
            return self._ticket(parse(TdIncident, created, "a new incident"))

        async with self._ensure_locks.setdefault(new.external_ref, asyncio.Lock()):
            ticket = await ensure_by_key(find, create, policy=self.config.policy(), system=SYSTEM,
                                         what=f"the incident {new.external_ref}")
        if ticket.external_ref != new.external_ref:
            raise ConfigError(f"TOPdesk created incident {ticket.id} but did not store its "
                              f"{self.config.external_ref_field}", system=SYSTEM,
                              hint=f"Enable {self.config.external_ref_field} for incidents and let the hub's "
                                   f"operator write it; then set it on incident {ticket.id} before replaying.")
        return ticket

    async def _create_payload(self, new: NewTicket) -> dict[str, Any]:
        subject, body = new.subject, new.body
        if len(subject) > BRIEF_MAX:
            subject = subject[:BRIEF_MAX - 1].rstrip() + "…"
            body = f"{new.subject}\n\n{body}"
        group, field = self.config.operator_group(new.queue), self.config.external_ref_field.partition(".")
        payload: dict[str, Any] = {
            "briefDescription": subject,
            "request": body,
            "status": self.config.incident_line,
            "operatorGroup": {"id": await self._rest.operator_group_id(group)},
            field[0]: {field[2]: new.external_ref},
        }
        if new.requestor:
            payload["callerLookup"] = {"id": (await self._rest.ensure_person(new.requestor)).id}
        else:
            payload["caller"] = {"dynamicName": self.config.default_caller}
        if new.due:
            payload["targetDate"] = td_target_date(new.due, self.config.due_time)
        return payload

    async def _incident(self, ticket_id: str) -> TdIncident:
        return parse(TdIncident, await self._rest.get(incident_path(ticket_id)), f"incident {ticket_id}")

    async def get_ticket(self, ticket_id: str) -> Ticket:
        return self._ticket(await self._incident(ticket_id))

    async def comment(self, ticket_id: str, text: str) -> None:
        """Add an action invisible for the caller (an internal comment)."""
        _refuse_personal_data(comment=text)
        path = incident_path(ticket_id)
        since = datetime.now(UTC) - timedelta(minutes=1)

        async def landed() -> bool | None:
            actions = [parse(TdAction, a, "an action") for a in await self._rest.first_page(
                f"{path}/actions", {"page_size": 20})]
            return True if any(a.memo_text == text and (parse_td_datetime(a.entry_date) or since) >= since
                               for a in actions) else None

        async def add() -> bool:
            await self._rest.send_once("PUT", path, {"action": text, "actionInvisibleForCaller": True})
            return True

        await create_once(add, landed, policy=self.config.policy(), system=SYSTEM, what="adding an action")

    async def set_status(self, ticket_id: str, status: str) -> Ticket:
        """Move an incident to the processing status mapped to ``status``."""
        if status not in self.config.status_map:
            raise InvalidInput(f"{status!r} is not a ticket status the hub can set in TOPdesk (known: "
                               f"{', '.join(self.config.status_map)})", system=SYSTEM,
                               hint="Use a port status listed in TopdeskConfig.status_map.")
        current = await self._incident(ticket_id)
        if port_status(current, self.config.status_map) == status:
            return self._ticket(current)
        status_id = await self._rest.processing_status_id(self.config.status_map[status])
        await self._rest.send("PUT", f"incidents/id/{current.id}", {"processingStatus": {"id": status_id}})
        ticket = await self.get_ticket(current.id)
        if ticket.status != status:
            raise InvalidInput(f"TOPdesk kept incident {current.number} at {ticket.status!r} instead of "
                               f"{status!r}", system=SYSTEM, hint="Check TopdeskConfig.status_map against "
                                                                 "TOPdesk's processing statuses.")
        return ticket

    # --- health ----------------------------------------------------------------------

    async def health(self) -> Health:
        """Authenticated ``GET /tas/api/version``: reachable, password accepted, API version."""
        probe = HealthProbe(SYSTEM)
        try:
            version = await self._rest.version()
        except HubError as exc:
            return probe.failed(exc)
        return probe.ok("TOPdesk accepted the hub's application password", version=version)
