"""In-memory fakes of the ports, registered like real adapters.

Each fake keeps its state in plain dicts and is idempotent by external key the way the real
adapter is (``ensure_*`` finds by external key first, ``allocate_asset`` returns the asset
already held under the external reference, ``book`` refuses an overlapping slot with
``Conflict``). :class:`FakeAdapter` is a registry line whose ``build`` hands out the one
instance the test holds, so the test sees what the flow wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hub.errors import Conflict, MalformedResponse, NotFound
from hub.ports.archive import CaseFile, CaseStatus, JournalEntry, NewCaseFile, NewJournalEntry
from hub.ports.calendar import Booking, NewBooking, Room
from hub.ports.common import Health
from hub.ports.forms import FormInfo, Submission, SubmissionMeta
from hub.ports.hr import Employee, OrgUnit, Position, canonical_employee_id
from hub.ports.inbox import InboxMessage
from hub.ports.mail import OutgoingMail
from hub.ports.ticketing import Asset, AssetGuard, NewTicket, Ticket

__all__ = ["FakeAdapter", "MemoryArchive", "MemoryCalendar", "MemoryForms", "MemoryHr", "MemoryInbox",
           "MemoryMail", "MemoryTicketing", "MemoryConfig", "MemoryCalendarConfig", "StoredJournalEntry",
           "StoredCaseFile"]


class MemoryConfig(BaseModel):
    """A fake needs no settings; unknown ones are ignored."""

    model_config = ConfigDict(extra="ignore")


class MemoryCalendarConfig(MemoryConfig):
    # flows.rooms_steps.booking_rules reads the calendar adapter's slot grid from its config.
    slot_minutes: int = Field(15, ge=1, le=60)


@dataclass(frozen=True)
class FakeAdapter:
    """A registry line (like ``connectors.registry.Adapter``) that builds to a shared instance."""

    name: str
    port: str
    instance: Any
    config_class: type[BaseModel] = MemoryConfig

    def local_defaults(self) -> dict[str, Any]:
        return {}

    def build(self, config: Any) -> Any:
        return self.instance


class _Port:
    system = "memory"

    async def health(self) -> Health:
        return Health(system=self.system, ok=True, latency_ms=0.0, detail="in memory")

    async def aclose(self) -> None:
        return None


# ---- HR -------------------------------------------------------------------------------------

class MemoryHr(_Port):
    system = "memory-hr"

    def __init__(self, *, feide_realm: str = "oslomet.no") -> None:
        self.employees: dict[str, Employee] = {}
        self.positions: dict[str, Position] = {}
        self.units: dict[str, OrgUnit] = {}
        self.feide_realm = feide_realm
        self.reads: Counter[str] = Counter()  # get_employee calls, by canonical id

    def add(self, *records: Employee | Position | OrgUnit) -> None:
        for record in records:
            store: dict[str, Any] = (self.employees if isinstance(record, Employee)
                                     else self.positions if isinstance(record, Position) else self.units)
            store[record.id] = record

    async def get_employee(self, employee_id: str) -> Employee:
        """Found by any form of the id, like DFØ ("05001234" and "5001234" are one person);
        the record keeps the id it was added with (a test may add a padded one)."""
        wanted = canonical_employee_id(employee_id)
        self.reads[wanted] += 1
        for key, employee in self.employees.items():
            if canonical_employee_id(key) == wanted:
                return employee
        raise NotFound(f"HR does not know employee {employee_id}", system="hr", status=404)

    async def get_position(self, position_id: str) -> Position:
        try:
            return self.positions[position_id]
        except KeyError:
            raise NotFound(f"HR does not know position {position_id}", system="hr", status=404) from None

    async def get_org_unit(self, org_unit_id: str) -> OrgUnit:
        try:
            return self.units[org_unit_id]
        except KeyError:
            raise NotFound(f"HR does not know unit {org_unit_id}", system="hr", status=404) from None

    async def list_employees(self) -> AsyncIterator[Employee]:
        for employee in list(self.employees.values()):
            yield employee

    async def find_by_feide_id(self, feide_id: str) -> Employee | None:
        wanted = feide_id.strip().lower()
        for e in self.employees.values():
            keys = {(e.email or "").lower(), f"{e.username}@{self.feide_realm}".lower() if e.username else ""}
            if wanted in keys - {""}:
                return e
        return None


# ---- archive --------------------------------------------------------------------------------

@dataclass
class StoredJournalEntry:
    entry: JournalEntry
    new: NewJournalEntry


@dataclass
class StoredCaseFile:
    case_file: CaseFile
    new: NewCaseFile
    entries: list[StoredJournalEntry] = field(default_factory=list)


class MemoryArchive(_Port):
    system = "memory-archive"

    def __init__(self) -> None:
        self.case_files: dict[str, StoredCaseFile] = {}  # by system id
        self._next = 1

    def _id(self) -> str:
        self._next += 1
        return f"sys-{self._next - 1}"

    async def find_case_files(self, external_id: str) -> list[CaseFile]:
        return [s.case_file for s in self.case_files.values() if s.case_file.external_id == external_id]

    async def ensure_case_file(self, new: NewCaseFile) -> CaseFile:
        if found := await self.find_case_files(new.external_id):
            return found[0]
        system_id = self._id()
        case_file = CaseFile(system_id=system_id, external_id=new.external_id, title=new.title,
                             public_title=new.public_title, status=new.status,
                             case_number=f"2026/{len(self.case_files) + 1}", url=f"memory://archive/{system_id}")
        self.case_files[system_id] = StoredCaseFile(case_file, new)
        return case_file

    async def ensure_journal_entry(self, case_file: CaseFile, new: NewJournalEntry) -> JournalEntry:
        stored = self.case_files[case_file.system_id]
        for existing in stored.entries:
            if existing.entry.external_id == new.external_id:
                return existing.entry
        system_id = self._id()
        entry = JournalEntry(system_id=system_id, external_id=new.external_id, title=new.title,
                             journal_type=new.journal_type, registry_number=f"2026/{self._next}",
                             document_ids=[f"{system_id}-doc-{i}" for i, _ in enumerate(new.documents, 1)],
                             url=f"memory://archive/{system_id}")
        stored.entries.append(StoredJournalEntry(entry, new))
        return entry

    async def find_journal_entries(self, external_id: str) -> list[JournalEntry]:
        return [e.entry for s in self.case_files.values() for e in s.entries if e.entry.external_id == external_id]

    async def set_case_status(self, case_file: CaseFile, status: CaseStatus) -> CaseFile:
        stored = self.case_files[case_file.system_id]
        stored.case_file = stored.case_file.model_copy(update={"status": status})
        return stored.case_file

    @property
    def journal_entries(self) -> list[StoredJournalEntry]:
        return [e for s in self.case_files.values() for e in s.entries]


# ---- ticketing ------------------------------------------------------------------------------

FREE, ALLOCATED = "new", "allocated"  # RT's asset lifecycle (connectors/rt/assets.py)


class MemoryTicketing(_Port):
    system = "memory-ticketing"

    def __init__(self) -> None:
        self.tickets: dict[str, Ticket] = {}
        self.bodies: dict[str, str] = {}
        self.comments: dict[str, list[str]] = {}
        self.assets: dict[str, Asset] = {}
        self.slow_tickets = 0.0  # seconds each new ticket takes (a busy ticketing system)
        self.guarded: list[bool] = []  # per allocation: was it given a guard (hub.leases.asset_claims)

    def stock(self, catalog: str, name: str, model: str) -> Asset:
        asset = Asset(id=str(len(self.assets) + 1), name=name, catalog=catalog, status=FREE, model=model)
        self.assets[asset.id] = asset
        return asset

    async def find_tickets(self, external_ref: str) -> list[Ticket]:
        return [t for t in self.tickets.values() if t.external_ref == external_ref]

    async def ensure_ticket(self, new: NewTicket) -> Ticket:
        if found := await self.find_tickets(new.external_ref):
            return found[0]
        await asyncio.sleep(self.slow_tickets)
        ticket_id = str(len(self.tickets) + 100)
        ticket = Ticket(id=ticket_id, external_ref=new.external_ref, queue=new.queue, subject=new.subject,
                        status="new", due=new.due, url=f"memory://ticket/{ticket_id}")
        self.tickets[ticket_id] = ticket
        self.bodies[ticket_id] = new.body
        return ticket

    async def get_ticket(self, ticket_id: str) -> Ticket:
        try:
            return self.tickets[ticket_id]
        except KeyError:
            raise NotFound(f"no ticket {ticket_id}", system="ticketing", status=404) from None

    async def comment(self, ticket_id: str, text: str) -> None:
        await self.get_ticket(ticket_id)
        self.comments.setdefault(ticket_id, []).append(text)

    async def set_status(self, ticket_id: str, status: str) -> Ticket:
        ticket = (await self.get_ticket(ticket_id)).model_copy(update={"status": status})
        self.tickets[ticket_id] = ticket
        return ticket

    async def find_assets(self, catalog: str, *, held_by: str | None = None, external_ref: str | None = None,
                          status: str | None = None, model: str | None = None) -> list[Asset]:
        return [a for a in self.assets.values() if a.catalog == catalog
                and (held_by is None or held_by in a.held_by)
                and (external_ref is None or a.external_ref == external_ref)
                and (status is None or a.status == status)
                and (model is None or a.model == model)]

    async def get_asset(self, asset_id: str, catalog: str) -> Asset:
        asset = self.assets.get(asset_id)
        if asset is None or asset.catalog != catalog:
            raise NotFound(f"no asset {asset_id} in {catalog}", system="ticketing", status=404)
        return asset

    async def _allocate(self, catalog: str, *, holder: str | None, external_ref: str,
                        model: str | None, guard: AssetGuard | None) -> Asset | None:
        if mine := await self.find_assets(catalog, external_ref=external_ref):
            return mine[0]
        self.guarded.append(guard is not None)
        for candidate in await self.find_assets(catalog, status=FREE, model=model):
            if candidate.external_ref:
                continue
            async with guard(candidate.id) if guard else contextlib.nullcontext(True) as ours:
                if not ours:
                    continue  # another allocator holds it
                claimed = candidate.model_copy(update={"status": ALLOCATED, "external_ref": external_ref,
                                                       "held_by": [holder] if holder else []})
                self.assets[claimed.id] = claimed
                return claimed
        return None

    async def allocate_asset(self, catalog: str, *, holder: str, external_ref: str,
                             model: str | None = None, guard: AssetGuard | None = None) -> Asset | None:
        return await self._allocate(catalog, holder=holder, external_ref=external_ref, model=model, guard=guard)

    async def reserve_asset(self, catalog: str, *, external_ref: str, model: str | None = None,
                            guard: AssetGuard | None = None) -> Asset | None:
        return await self._allocate(catalog, holder=None, external_ref=external_ref, model=model, guard=guard)

    async def release_asset(self, asset_id: str, catalog: str) -> Asset:
        asset = (await self.get_asset(asset_id, catalog)).model_copy(
            update={"status": FREE, "held_by": [], "external_ref": None})
        self.assets[asset_id] = asset
        return asset

    def hand_over(self, asset_id: str, holder: str) -> None:
        """What IT does in the register: the asset is held by ``holder``."""
        self.assets[asset_id] = self.assets[asset_id].model_copy(update={"held_by": [holder], "status": "in-use"})


# ---- forms ----------------------------------------------------------------------------------

class MemoryForms(_Port):
    system = "memory-forms"

    def __init__(self) -> None:
        self.submissions: dict[int, Submission] = {}
        self.attachments: dict[int, bytes] = {}
        self.pdfs: dict[int, bytes] = {}
        self.slow: dict[int, float] = {}  # submission id → seconds its reading takes (a slow answer)
        self.broken: dict[int, Exception] = {}  # submission id → what reading it raises
        self.garbled_reads: dict[int, int] = {}  # submission id → how many of its next reads answer garbage
        self.reading = 0  # submissions being read right now
        self.most_read_at_once = 0

    def submit(self, submission: Submission, *, attachments: dict[int, bytes] | None = None,
               pdf: bytes | None = None) -> None:
        self.submissions[submission.meta.submission_id] = submission
        self.attachments.update(attachments or {})
        if pdf is not None:
            self.pdfs[submission.meta.submission_id] = pdf

    async def list_forms(self) -> list[FormInfo]:
        ids = sorted({s.meta.form_id for s in self.submissions.values()})
        return [FormInfo(form_id=i, title=f"form {i}") for i in ids]

    async def submissions_after(self, form_id: int, after: int | None) -> AsyncIterator[SubmissionMeta]:
        for submission_id in sorted(self.submissions):
            meta = self.submissions[submission_id].meta
            if meta.form_id == form_id and (after is None or submission_id > after):
                yield meta

    async def get_submission(self, submission_id: int) -> Submission:
        self.reading += 1
        self.most_read_at_once = max(self.most_read_at_once, self.reading)
        try:
            await asyncio.sleep(self.slow.get(submission_id, 0.0))
        finally:
            self.reading -= 1
        if submission_id in self.broken:
            raise self.broken[submission_id]
        if self.garbled_reads.get(submission_id, 0) > 0:
            self.garbled_reads[submission_id] -= 1
            raise MalformedResponse(f"submission {submission_id}: the answer is not valid JSON", system="forms")
        try:
            return self.submissions[submission_id]
        except KeyError:
            raise NotFound(f"no submission {submission_id}", system="forms", status=404) from None

    async def get_attachment(self, attachment_id: int) -> bytes:
        try:
            return self.attachments[attachment_id]
        except KeyError:
            raise NotFound(f"no attachment {attachment_id}", system="forms", status=404) from None

    async def get_submission_pdf(self, submission_id: int) -> bytes:
        try:
            return self.pdfs[submission_id]
        except KeyError:
            raise NotFound(f"no PDF of submission {submission_id}", system="forms", status=404) from None


# ---- mail and inbox -------------------------------------------------------------------------

class MemoryMail(_Port):
    """Every message sent, in order (like an SMTP sink: a resend is delivered again)."""

    system = "memory-mail"

    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []

    async def send(self, mail: OutgoingMail) -> str:
        self.sent.append(mail)
        return mail.message_id

    def to(self, address: str) -> list[OutgoingMail]:
        return [m for m in self.sent if address in m.to]


class MemoryInbox(_Port):
    system = "memory-inbox"

    def __init__(self) -> None:
        self.messages: list[InboxMessage] = []

    async def messages_since(self, since: datetime | None = None) -> AsyncIterator[InboxMessage]:
        for message in sorted(self.messages, key=lambda m: m.received):
            if since is None or message.received >= since:
                yield message


# ---- calendar -------------------------------------------------------------------------------

class MemoryCalendar(_Port):
    system = "memory-calendar"

    def __init__(self, rooms: list[Room] | None = None) -> None:
        self.rooms: dict[str, Room] = {r.id: r for r in rooms or []}
        self.bookings: dict[str, Booking] = {}  # by external ref (the event's UID)
        self.garbled_listings = 0  # the next this many room listings answer garbage
        self.slow_booking = 0.0  # seconds each booking request takes
        self.booking_now = 0
        self.most_booked_at_once = 0
        self.prunes = 0  # prune_past calls

    async def list_rooms(self) -> list[Room]:
        if self.garbled_listings > 0:
            self.garbled_listings -= 1
            raise MalformedResponse("PROPFIND did not answer WebDAV XML", system="calendar")
        return list(self.rooms.values())

    async def busy(self, room_id: str, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        return sorted((b.start, b.end) for b in self.bookings.values()
                      if b.room_id == room_id and b.start < end and start < b.end)

    async def find_booking(self, external_ref: str) -> Booking | None:
        return self.bookings.get(external_ref)

    async def book(self, new: NewBooking) -> Booking:
        self.booking_now += 1
        self.most_booked_at_once = max(self.most_booked_at_once, self.booking_now)
        try:
            await asyncio.sleep(self.slow_booking)
        finally:
            self.booking_now -= 1
        if (existing := self.bookings.get(new.external_ref)) is not None:
            return existing
        if new.room_id not in self.rooms:
            raise NotFound(f"no room {new.room_id}", system="calendar", status=404)
        if await self.busy(new.room_id, new.start, new.end):
            raise Conflict(f"room {new.room_id} is taken then", system="calendar", status=409)
        booking = Booking(external_ref=new.external_ref, room_id=new.room_id, start=new.start, end=new.end,
                          summary=new.summary, organizer_email=new.organizer_email,
                          url=f"memory://calendar/{new.room_id}/{new.external_ref}.ics",
                          ics=f"BEGIN:VCALENDAR\r\nUID:{new.external_ref}\r\nEND:VCALENDAR\r\n".encode())
        self.bookings[new.external_ref] = booking
        return booking

    async def cancel(self, external_ref: str) -> bool:
        return self.bookings.pop(external_ref, None) is not None

    async def prune_past(self, before: datetime | None = None) -> int:
        self.prunes += 1
        return 0  # no slot bookkeeping to prune in memory
