"""RT 5 assets: search with AssetSQL and hand out a free one, safely.

Allocation claims an asset in one ``PUT /asset/:id`` guarded by ``If-Match`` (the ETag
RT derives from the asset's last transaction): ``Status`` → ``allocated``, ``HeldBy`` →
the holder (RT creates the user from the e-mail address if needed) and the custom field
``ExternalRef`` → the hub's key. The ExternalRef is the claim: after the write the asset
is re-read, and only if it carries *our* reference is it ours. A 412 means someone else
changed it first — or that our own retried PUT had already landed — so the re-read
decides in both cases. A lost claim moves on to the next free asset.

``If-Match`` and the re-read catch most races, but RT checks ``If-Match`` *before* it writes,
not atomically with it: two PUTs carrying the same ETag were both seen to succeed here. The
re-read then sorts them out unless one allocator re-reads before the other's write lands. So
two allocators must never claim one asset at once: the hub's flows pass a guard (a ledger
lease per asset, :data:`hub.ports.ticketing.AssetGuard`) that each candidate is claimed
inside, and allocations run side by side across processes; without a guard, allocations in a
catalog go one at a time within this client (an ``asyncio.Lock``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from typing import Any

from connectors.rt.models import RtAsset, to_asset
from connectors.rt.query import QueryValueError, all_of, cf, eq, field
from connectors.rt.rest import SYSTEM, RtRest, parse
from hub.errors import Conflict, InvalidInput, NotFound, PermanentError
from hub.paging import claim_first
from hub.ports.ticketing import Asset, AssetGuard

__all__ = ["RtAssets", "ASSET_FIELDS", "FREE", "ALLOCATED", "FREE_PAGE"]

log = logging.getLogger("hub.connectors.rt")

ASSET_FIELDS = {
    "fields": "Name,Status,Catalog,CustomFields,HeldBy",
    "fields[HeldBy]": "EmailAddress,Name",
    "fields[Catalog]": "Name",
}
FREE = "new"
ALLOCATED = "allocated"
FREE_PAGE = 10  # free assets read at a time when allocating: the first is nearly always had


def _holds(asset: Asset, holder: str) -> bool:
    return holder.casefold() in (h.casefold() for h in asset.held_by)


class RtAssets:
    def __init__(self, rest: RtRest) -> None:
        self._rest = rest
        self._config = rest.config
        self._locks: dict[str, asyncio.Lock] = {}

    def _query(self, catalog_id: str, *, held_by: str | None, external_ref: str | None,
               status: str | None, model: str | None) -> str:
        try:
            conditions = [eq(field("Catalog"), catalog_id)]
            if held_by:
                key = "HeldBy.EmailAddress" if "@" in held_by else "HeldBy.Name"
                conditions.append(eq(field(key), held_by))
            if external_ref is not None:
                conditions.append(eq(cf(self._config.external_ref_field), external_ref))
            if status:
                conditions.append(eq(field("Status"), status))
            if model:
                conditions.append(eq(cf(self._config.model_field), model))
            return all_of(*conditions)
        except QueryValueError as exc:
            raise InvalidInput(f"cannot search RT assets: {exc}", system=SYSTEM) from exc

    def _asset(self, item: dict[str, Any], catalog: str) -> Asset:
        return to_asset(parse(RtAsset, item, f"an asset of {catalog}"), catalog_name=catalog,
                        external_ref_field=self._config.external_ref_field,
                        model_field=self._config.model_field, base_url=self._config.base_url)

    async def find(self, catalog: str, *, held_by: str | None = None, external_ref: str | None = None,
                   status: str | None = None, model: str | None = None) -> list[Asset]:
        catalog_id = await self._rest.catalog_id(catalog)
        query = self._query(catalog_id, held_by=held_by, external_ref=external_ref, status=status,
                            model=model)
        items = await self._rest.search("assets", query, ASSET_FIELDS, post=True)
        assets = [self._asset(item, catalog) for item in items]
        # RT compares custom fields case-insensitively; the hub's keys are exact.
        return [a for a in assets
                if (external_ref is None or a.external_ref == external_ref)
                and (model is None or a.model == model)
                and (held_by is None or _holds(a, held_by))]

    async def get(self, asset_id: str, catalog: str) -> Asset:
        """Re-read one asset (with HeldBy e-mail addresses) by id."""
        if not asset_id.isdigit():
            raise InvalidInput(f"not an RT asset id: {asset_id!r}", system=SYSTEM)
        items = await self._rest.search_one_page("assets", eq(field("id"), asset_id), ASSET_FIELDS,
                                                 post=True)
        if not items:
            raise NotFound(f"RT asset {asset_id} does not exist or is not visible", system=SYSTEM)
        return self._asset(items[0], catalog)

    async def allocate(self, catalog: str, *, holder: str | None, external_ref: str,
                       model: str | None = None, guard: AssetGuard | None = None) -> Asset | None:
        """Claim a free asset under ``external_ref``; ``holder`` None reserves it for a
        delivery that a person completes later (HeldBy set then)."""
        alone = self._locks.setdefault(catalog, asyncio.Lock()) if guard is None else contextlib.nullcontext()
        async with alone:
            mine = await self.find(catalog, external_ref=external_ref)
            if mine:
                if len(mine) > 1:
                    log.warning("%d assets in %s carry ExternalRef %s; returning the first",
                                len(mine), catalog, external_ref)
                return mine[0]
            return await claim_first(
                lambda: self._free(catalog, model=model),
                lambda candidate: self._claim(candidate, catalog, holder=holder, external_ref=external_ref),
                guard=None if guard is None else lambda candidate: guard(candidate.id))

    async def _free(self, catalog: str, *, model: str | None) -> AsyncGenerator[Asset, None]:
        """The free, unclaimed assets of ``catalog`` (of ``model``), oldest first, read a page of
        :data:`FREE_PAGE` at a time as the caller goes on. Read whole, every allocation had RT
        render the whole stock: with 1,000 laptops in stock an allocation took 37 s (its slot
        held throughout), and a burst of hires went at 0.25 a second."""
        catalog_id = await self._rest.catalog_id(catalog)
        query = self._query(catalog_id, held_by=None, external_ref=None, status=FREE, model=model)
        async with contextlib.aclosing(self._rest.search_pages("assets", query, ASSET_FIELDS, post=True,
                                                               per_page=FREE_PAGE)) as pages:
            async for items in pages:
                for item in items:
                    asset = self._asset(item, catalog)
                    if asset.external_ref:
                        continue  # a half-finished claim by someone else; leave it to them
                    if model is None or asset.model == model:  # RT compares case-insensitively
                        yield asset

    async def release(self, asset_id: str, catalog: str) -> Asset:
        """Back to stock: ``Status`` new, no ``HeldBy``, ``ExternalRef`` emptied (a retried
        write lands on the same result)."""
        current = await self.get(asset_id, catalog)
        if current.status == FREE and not current.held_by and not current.external_ref:
            return current
        messages = await self._rest.put(f"asset/{asset_id}", {
            "Status": FREE, "HeldBy": [], "CustomFields": {self._config.external_ref_field: ""}})
        released = await self.get(asset_id, catalog)
        if released.status != FREE or released.held_by or released.external_ref:
            raise PermanentError(f"RT did not put asset {current.name} back in stock: "
                                 f"{'; '.join(messages) or 'no message'}", system=SYSTEM,
                                 hint="RT's assets lifecycle must allow allocated/in-use -> new "
                                      "(docs/production.md), and the hub user needs ModifyAsset and "
                                      "ModifyCustomField on the catalog.")
        return released

    async def _claim(self, candidate: Asset, catalog: str, *, holder: str | None,
                     external_ref: str) -> Asset | None:
        body, etag = await self._rest.get(f"asset/{candidate.id}")
        current = parse(RtAsset, body, f"asset {candidate.name}")
        if current.status != FREE or current.cf(self._config.external_ref_field):
            return None  # taken since the search
        update: dict[str, Any] = {"Status": ALLOCATED,
                                  "CustomFields": {self._config.external_ref_field: external_ref}}
        if holder is not None:
            update["HeldBy"] = [holder]
        messages: list[str] = []
        try:
            messages = await self._rest.put(f"asset/{candidate.id}", update, etag=etag)
        except Conflict:
            log.info("asset %s changed while claiming it; re-reading", candidate.name)
        claimed = await self.get(candidate.id, catalog)
        if claimed.external_ref != external_ref:
            log.info("lost asset %s to a concurrent allocation; trying the next one", candidate.name)
            return None
        if (holder is None or _holds(claimed, holder)) and claimed.status == ALLOCATED:
            return claimed
        # Ours by ExternalRef, but a concurrent write left HeldBy/Status wrong: repair it.
        repair: dict[str, Any] = {"Status": ALLOCATED}
        if holder is not None:
            repair["HeldBy"] = [holder]
        messages += await self._rest.put(f"asset/{candidate.id}", repair)
        repaired = await self.get(candidate.id, catalog)
        if ((holder is None or _holds(repaired, holder)) and repaired.status == ALLOCATED
                and repaired.external_ref == external_ref):
            return repaired
        raise PermanentError(f"RT did not record the allocation of asset {candidate.name}: "
                             f"{'; '.join(messages) or 'no message'}", system=SYSTEM,
                             hint="Check the hub user's ModifyAsset/ModifyCustomField rights on the catalog.")
