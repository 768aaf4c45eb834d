"""Ticketing port: tickets and the equipment (asset) register (RT first, TOPdesk next).

Every ticket the hub opens carries an external reference (RT custom field
``ExternalRef``), so ``ensure_ticket`` finds it again instead of opening a second one.
Subjects and bodies never carry a fødselsnummer.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import date
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from hub.ports.common import Health

__all__ = ["NewTicket", "Ticket", "Asset", "AssetGuard", "TicketingPort", "AssetRegister", "AssetsFromRegister"]

# One allocator's hold on one asset while it claims it, entered with the asset's id: True when
# this allocator may claim it now, False when another holds it (the allocation tries the next
# free one). The hub's is a ledger lease per asset (hub.leases.asset_claims), so that
# allocations in any number of processes run side by side and never write one asset at once:
# RT checks If-Match before its write, not with it.
AssetGuard = Callable[[str], AbstractAsyncContextManager[bool]]


class NewTicket(BaseModel):
    model_config = ConfigDict(frozen=True)

    external_ref: str
    queue: str
    subject: str
    body: str
    requestor: str | None = None
    due: date | None = None


class Ticket(BaseModel):
    id: str
    external_ref: str | None
    queue: str
    subject: str
    status: str
    due: date | None = None
    url: str | None = None


class Asset(BaseModel):
    id: str
    name: str
    catalog: str
    status: str
    model: str | None = None
    held_by: list[str] = Field(default_factory=list, description="E-mail addresses or user names.")
    external_ref: str | None = None
    url: str | None = None


class TicketingPort(Protocol):
    async def find_tickets(self, external_ref: str) -> list[Ticket]:
        """Every ticket with this external reference (more than one means drift)."""
        ...

    async def ensure_ticket(self, new: NewTicket) -> Ticket:
        """Find by external reference, or create. Never opens a second ticket."""
        ...

    async def get_ticket(self, ticket_id: str) -> Ticket: ...

    async def comment(self, ticket_id: str, text: str) -> None: ...

    async def find_assets(self, catalog: str, *, held_by: str | None = None,
                          external_ref: str | None = None, status: str | None = None,
                          model: str | None = None) -> list[Asset]: ...

    async def allocate_asset(self, catalog: str, *, holder: str, external_ref: str,
                             model: str | None = None, guard: AssetGuard | None = None) -> Asset | None:
        """Give the holder a free asset, or return the one already allocated under this
        external reference. ``None`` when no free asset exists. With a ``guard``, each free
        asset is claimed only inside it (see :data:`AssetGuard`); without one, allocations
        go one at a time within this client."""
        ...

    async def reserve_asset(self, catalog: str, *, external_ref: str,
                            model: str | None = None, guard: AssetGuard | None = None) -> Asset | None:
        """Set a free asset aside under this external reference (Status allocated, no holder
        yet: a person delivers it and sets HeldBy). ``None`` when none is free."""
        ...

    async def release_asset(self, asset_id: str, catalog: str) -> Asset:
        """Put an asset back in stock (a returned laptop): no holder, no external reference,
        the free status, so the next allocation may hand it out. Releasing a free asset again
        changes nothing."""
        ...

    async def set_status(self, ticket_id: str, status: str) -> Ticket: ...

    async def get_asset(self, asset_id: str, catalog: str) -> Asset: ...

    async def health(self) -> Health: ...

    async def aclose(self) -> None: ...


class AssetRegister(Protocol):
    """What an adapter's asset module offers (``connectors/rt/assets.py``, ``connectors/topdesk/assets.py``)."""

    async def find(self, catalog: str, *, held_by: str | None = None, external_ref: str | None = None,
                   status: str | None = None, model: str | None = None) -> list[Asset]: ...

    async def get(self, asset_id: str, catalog: str) -> Asset: ...

    async def allocate(self, catalog: str, *, holder: str | None, external_ref: str,
                       model: str | None = None, guard: AssetGuard | None = None) -> Asset | None: ...

    async def release(self, asset_id: str, catalog: str) -> Asset: ...


class AssetsFromRegister:
    """The port's asset methods for an adapter that keeps its asset logic in an
    :class:`AssetRegister` at ``self._assets``; reserving is allocating without a holder."""

    _assets: AssetRegister

    async def find_assets(self, catalog: str, *, held_by: str | None = None, external_ref: str | None = None,
                          status: str | None = None, model: str | None = None) -> list[Asset]:
        return await self._assets.find(catalog, held_by=held_by, external_ref=external_ref, status=status,
                                       model=model)

    async def get_asset(self, asset_id: str, catalog: str) -> Asset:
        return await self._assets.get(asset_id, catalog)

    async def allocate_asset(self, catalog: str, *, holder: str, external_ref: str,
                             model: str | None = None, guard: AssetGuard | None = None) -> Asset | None:
        return await self._assets.allocate(catalog, holder=holder, external_ref=external_ref, model=model,
                                           guard=guard)

    async def reserve_asset(self, catalog: str, *, external_ref: str, model: str | None = None,
                            guard: AssetGuard | None = None) -> Asset | None:
        return await self._assets.allocate(catalog, holder=None, external_ref=external_ref, model=model,
                                           guard=guard)

    async def release_asset(self, asset_id: str, catalog: str) -> Asset:
        return await self._assets.release(asset_id, catalog)
