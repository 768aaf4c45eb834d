"""Reconciliation: does every target still hold exactly what the ledger says was written?

For each external reference in the ledger that carries an external key, the target is asked
for every record under that key:

- **missing** — the ledger says it was written, the target has none (deleted by hand, lost);
- **duplicate** — the target has more than one (two case files or tickets for one request);

and from the ledger alone:

- **stuck** — an item ``running`` with no live lease (its run died: a live run renews its
  lease, see :meth:`hub.ledger.Ledger.is_stuck`), or ``pending`` for longer than
  ``stuck_after`` (nothing picked it up);

and from HR and the asset register:

- **left holding** — a laptop still held by someone whose employment has ended (sluttdato
  before today): the leaver service's collection was missed or never resolved. A person
  must collect it (or correct the register).

Lookups are grouped by (system, kind, key), so a record shared by several items (a personnel
file) is asked for once.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from hub.errors import HubError
from hub.ledger import ItemState, Ledger
from hub.ledger.models import ExternalRef, WorkItem, utcnow
from hub.settings import OSLO
from hub.text import for_prefect
from hub.wiring import Connectors

__all__ = ["Finding", "Report", "reconcile"]


@dataclass(frozen=True)
class Finding:
    kind: str  # missing | duplicate | stuck | left_holding | unchecked
    service: str
    item: str
    what: str
    detail: str


@dataclass
class Report:
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(f.kind == kind for f in self.findings)

    @property
    def drift(self) -> bool:
        return any(f.kind in ("missing", "duplicate", "stuck", "left_holding") for f in self.findings)

    def summary(self) -> dict[str, int]:
        return {"checked": self.checked, "missing": self.count("missing"), "duplicate": self.count("duplicate"),
                "stuck": self.count("stuck"), "left_holding": self.count("left_holding"),
                "unchecked": self.count("unchecked")}

    def markdown(self, now: datetime) -> str:
        lines = [f"# Reconciliation {now:%Y-%m-%d %H:%M}", "",
                 "| checked | missing | duplicate | stuck | laptops held by leavers | could not check |",
                 "|---|---|---|---|---|---|",
                 "| {checked} | {missing} | {duplicate} | {stuck} | {left_holding} | {unchecked} |".format(
                     **self.summary()), ""]
        if not self.findings:
            lines.append("No drift: every record the ledger knows of exists exactly once.")
            return "\n".join(lines)
        lines += ["| finding | service | item | record | detail |", "|---|---|---|---|---|"]
        # Every cell masked and escaped: a detail may quote a target's answer or a person's text.
        lines += ["| **{}** | {} | {} | {} | {} |".format(*(for_prefect(cell, inline=True) for cell in (
            f.kind, f.service, f.item, f.what, f.detail))) for f in self.findings]
        lines += ["", "What to do: a *missing* record was removed in the target — replay the item "
                  "(`hub replay`) to write it again; a *duplicate* must be merged or removed by hand in "
                  "the target; a *stuck* item is re-driven by the redrive-stuck flow (a limited number of "
                  "times), or replay it (`hub replay ID`) after looking at its run in the Prefect UI; a laptop "
                  "*left holding* by someone who has left must be collected by IT (resolve the leaver's collection "
                  "ticket, or put it back in stock by hand) or its holder corrected in the register."]
        return "\n".join(lines)


async def _count(ports: Connectors, system: str, kind: str, key: str, catalog: str) -> int | None:
    """How many records the target holds under ``key``; None if this kind is not checkable."""
    if system == "archive" and kind == "case_file":
        return len(await ports.archive.find_case_files(key))
    if system == "archive" and kind == "journal_entry":
        return len(await ports.archive.find_journal_entries(key))
    if system == "ticketing" and kind == "ticket":
        return len(await ports.ticketing.find_tickets(key))
    if system == "ticketing" and kind == "asset":
        return len(await ports.ticketing.find_assets(catalog, external_ref=key))
    return None


async def reconcile(ledger: Ledger, ports: Connectors, *, catalog: str = "Laptops",
                    stuck_after: timedelta = timedelta(hours=1), now: datetime | None = None) -> Report:
    now = now or utcnow()
    report = Report()
    refs: dict[tuple[str, str, str], list[tuple[WorkItem, ExternalRef]]] = defaultdict(list)
    for item, ref in await asyncio.to_thread(ledger.refs):
        if ref.external_key and ref.system in ("archive", "ticketing"):
            refs[(ref.system, ref.kind, ref.external_key)].append((item, ref))
    for (system, kind, key), owners in sorted(refs.items()):
        item, ref = owners[0]
        what = f"{system} {kind.replace('_', ' ')} {key}"
        try:
            found = await _count(ports, system, kind, key, catalog)
        except HubError as exc:
            report.findings.append(Finding("unchecked", item.service, item.source_key, what, str(exc)))
            continue
        if found is None:
            continue
        report.checked += 1
        if found == 0:
            report.findings.append(Finding("missing", item.service, item.source_key, what,
                                           f"the ledger recorded {ref.ref} on {ref.created_at:%Y-%m-%d}"))
        elif found > 1:
            report.findings.append(Finding("duplicate", item.service, item.source_key, what,
                                           f"{found} records carry this key"))
    await _laptops_held_by_leavers(ports, report, catalog=catalog, today=now.astimezone(OSLO).date())
    for item in await asyncio.to_thread(ledger.items, states=[ItemState.RUNNING, ItemState.PENDING], limit=None):
        if Ledger.is_stuck(item, now):
            redrives = int((item.data or {}).get("redrives", 0))
            report.findings.append(Finding("stuck", item.service, item.source_key, "work item",
                                           f"running since {item.updated_at:%Y-%m-%d %H:%M} with no live run "
                                           f"(flow run {item.flow_run_id or '?'}; re-driven {redrives} time(s))"))
        elif item.state == ItemState.PENDING and now - item.requested_at > stuck_after and not item.flow_run_id:
            report.findings.append(Finding("stuck", item.service, item.source_key, "work item",
                                           f"pending since {item.requested_at:%Y-%m-%d %H:%M}, never picked up"))
    return report


async def _laptops_held_by_leavers(ports: Connectors, report: Report, *, catalog: str, today: date) -> None:
    """Laptops whose holder's employment ended before ``today``: two bulk reads (every asset of
    the catalog, every employee), not one query per person."""
    try:
        hr, ticketing = ports.hr, ports.ticketing
    except (AttributeError, LookupError):
        return  # a reconciliation of the archive alone
    try:
        left: dict[str, tuple[str, date]] = {}
        async for employee in hr.list_employees():
            if employee.end_date is not None and employee.end_date < today:
                for holder in (employee.email, f"{employee.username}@oslomet.no" if employee.username else None):
                    if holder:
                        left[holder.casefold()] = (employee.id, employee.end_date)
        if not left:
            return
        assets = await ticketing.find_assets(catalog)
    except HubError as exc:
        report.findings.append(Finding("unchecked", "leaver", "-", f"laptops in {catalog} held by leavers", str(exc)))
        return
    for asset in assets:
        for holder in asset.held_by:
            if (found := left.get(holder.casefold())) is not None:
                employee_id, ended = found
                report.findings.append(Finding(
                    "left_holding", "leaver", employee_id, f"ticketing asset {asset.name} (#{asset.id})",
                    f"held by DFØ employee {employee_id}, whose employment ended {ended.isoformat()}"))
                break
