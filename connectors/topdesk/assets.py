"""TOPdesk Asset Management: find laptops and hand out a free one, safely.

TOPdesk keeps an asset's lifecycle in a template field (here ``lifecycle-status``:
In stock → Allocated → In use → Recycled/Stolen) and links holders through
*assignments* (``PUT /assetmgmt/assets/{id}/assignments`` with ``linkType: person``),
not through a field. The hub's key is a text field (``hub-reference``).

Allocation claims an asset in one ``PATCH /assetmgmt/assets/{id}`` guarded by
``If-Match`` (the asset's ETag): status → Allocated and the reference → ours. TOPdesk
checks the ETag and writes under one lock, so of two allocators holding the same ETag
only one wins; the other gets 412 (→ :class:`hub.errors.Conflict`). After the write the
asset is re-read: only if it carries *our* reference is it ours (this also covers our own
retried PATCH that had landed). Then the holder is linked as a person assignment (the
person is registered first if TOPdesk does not know them). A lost claim moves on to the
next free asset; a claim whose assignment failed is repaired by the next call with the
same reference. Within one process, allocations per catalog are serialised with a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncGenerator
from typing import Any

from connectors.topdesk import fiql
from connectors.topdesk.rest import SYSTEM, TopdeskRest
from hub.errors import Conflict, InvalidInput, NotFound
from hub.paging import claim_first
from hub.ports.ticketing import Asset, AssetGuard

__all__ = ["TopdeskAssets", "FREE_PAGE"]

FREE_PAGE = 10  # free assets read at a time when allocating: the first is nearly always had

log = logging.getLogger("hub.connectors.topdesk")

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class TopdeskAssets:
    def __init__(self, rest: TopdeskRest) -> None:
        self._rest = rest
        self._config = rest.config
        self._templates: set[str] | None = None
        self._locks: dict[str, asyncio.Lock] = {}

    async def _template(self, catalog: str) -> str:
        name = self._config.template_of(catalog)
        if self._templates is None or name not in self._templates:
            body = await self._rest.get("assetmgmt/templates")
            rows = body.get("dataSet", []) if isinstance(body, dict) else []
            self._templates = {str(r.get("text") or r.get("name")) for r in rows if isinstance(r, dict)}
        if name not in self._templates:
            raise NotFound(f"TOPdesk has no asset template {name!r} (catalog {catalog!r})", system=SYSTEM,
                           status=404, hint="Check the catalog name and TopdeskConfig.laptop_template.")
        return name

    def _status_value(self, status: str) -> str:
        return self._config.asset_status_map.get(status, status)

    def _port_status(self, value: str) -> str:
        return next((p for p, v in self._config.asset_status_map.items() if v.casefold() == value.casefold()), value)

    async def _asset(self, fields: dict[str, Any], persons: list[dict[str, Any]], catalog: str) -> Asset:
        cfg = self._config
        holders = []
        for link in persons:
            person_id = (link.get("person") or {}).get("id") or link.get("linkToId")
            if person_id:
                person = await self._rest.person(str(person_id))
                holders.append(person.email or person.network_login_name or person.dynamic_name)
        return Asset(id=str(fields["id"]), name=str(fields.get("name") or ""), catalog=catalog,
                     status=self._port_status(str(fields.get(cfg.asset_status_field) or "")),
                     model=str(fields.get(cfg.asset_model_field) or "") or None, held_by=holders,
                     external_ref=str(fields.get(cfg.asset_external_ref_field) or "") or None,
                     url=f"{cfg.web_root}/secure/assetmgmt/card.html?unid={fields['id']}")

    async def _listed(self, item: dict[str, Any], catalog: str) -> Asset:
        """An asset of a list answer (``showAssignments``: its holders come with it)."""
        return await self._asset(item, (item.get("@assignments") or {}).get("persons", []), catalog)

    async def find(self, catalog: str, *, held_by: str | None = None, external_ref: str | None = None,
                   status: str | None = None, model: str | None = None) -> list[Asset]:
        params = await self._search(catalog, held_by=held_by, external_ref=external_ref, status=status, model=model)
        if params is None:
            return []
        items = await self._rest.walk("assetmgmt/assets", params, assets=True)
        assets = [await self._listed(i, catalog) for i in items]
        # TOPdesk compares text case-insensitively; the hub's keys are exact.
        return [a for a in assets
                if (external_ref is None or (a.external_ref or "") == external_ref)
                and (model is None or a.model == model)
                and (held_by is None or held_by.casefold() in (h.casefold() for h in a.held_by))]

    async def _free(self, catalog: str, *, model: str | None) -> AsyncGenerator[Asset, None]:
        """The free, unclaimed assets of ``catalog`` (of ``model``), read a page of
        :data:`FREE_PAGE` at a time as the caller goes on, not the whole stock per allocation
        (as :meth:`connectors.rt.assets.RtAssets._free`)."""
        params = await self._search(catalog, status="new", model=model)
        assert params is not None  # no holder to look up
        async with contextlib.aclosing(self._rest.pages("assetmgmt/assets", params, page_size=FREE_PAGE,
                                                        assets=True)) as pages:
            async for items in pages:
                for item in items:
                    asset = await self._listed(item, catalog)
                    if asset.external_ref:
                        continue  # a half-finished claim by someone else; leave it to them
                    if model is None or asset.model == model:  # TOPdesk compares case-insensitively
                        yield asset

    async def _search(self, catalog: str, *, held_by: str | None = None, external_ref: str | None = None,
                      status: str | None = None, model: str | None = None) -> dict[str, str | int] | None:
        """The query parameters of an asset search; None when ``held_by`` is nobody TOPdesk knows."""
        cfg = self._config
        params: dict[str, str | int] = {
            "templateName": await self._template(catalog), "archived": "false", "showAssignments": "true",
            "fields": ",".join((cfg.asset_model_field, cfg.asset_status_field, cfg.asset_external_ref_field))}
        try:
            conditions = [fiql.odata_eq(cfg.asset_external_ref_field, external_ref) if external_ref is not None
                          else "",
                          fiql.odata_eq(cfg.asset_status_field, self._status_value(status)) if status else "",
                          fiql.odata_eq(cfg.asset_model_field, model) if model else ""]
        except fiql.QueryValueError as exc:
            raise InvalidInput(f"cannot search TOPdesk assets: {exc}", system=SYSTEM) from exc
        where = fiql.odata_all(*conditions)
        if where:
            params["$filter"] = where
        if held_by:
            person = await self._rest.find_person(held_by)
            if person is None:
                return None
            params["linkedTo"] = f"person/{person.id}"
        return params

    async def get(self, asset_id: str, catalog: str) -> Asset:
        """Re-read one asset, with its holders, by id."""
        if not _UUID.match(asset_id):
            raise InvalidInput(f"not a TOPdesk asset id: {asset_id!r}", system=SYSTEM)
        body = await self._rest.get(f"assetmgmt/assets/{asset_id}")
        links = await self._rest.get(f"assetmgmt/assets/{asset_id}/assignments")
        return await self._asset(body["data"], links.get("persons", []) if isinstance(links, dict) else [], catalog)

    async def allocate(self, catalog: str, *, holder: str | None, external_ref: str,
                       model: str | None = None, guard: AssetGuard | None = None) -> Asset | None:
        """Claim a free asset under ``external_ref``; ``holder`` None reserves it for a delivery
        a person completes later (the holder is linked then). With a ``guard`` each candidate
        is claimed inside it and allocations run side by side; without, one at a time here."""
        alone = self._locks.setdefault(catalog, asyncio.Lock()) if guard is None else contextlib.nullcontext()
        async with alone:
            mine = await self.find(catalog, external_ref=external_ref)
            if mine:
                if len(mine) > 1:
                    log.warning("%d assets in %s carry reference %s; returning the first", len(mine), catalog,
                                external_ref)
                return await self._complete(mine[0], catalog, holder)

            async def take(candidate: Asset) -> Asset | None:
                if await self._claim(candidate, external_ref):
                    return await self._complete(candidate, catalog, holder)
                log.info("lost asset %s to a concurrent allocation; trying the next one", candidate.name)
                return None

            return await claim_first(lambda: self._free(catalog, model=model), take,
                                     guard=None if guard is None else lambda candidate: guard(candidate.id))

    async def release(self, asset_id: str, catalog: str) -> Asset:
        """Back to stock: every person assignment unlinked, status In stock, the reference
        emptied (a retried call finds the work done)."""
        if not _UUID.match(asset_id):
            raise InvalidInput(f"not a TOPdesk asset id: {asset_id!r}", system=SYSTEM)
        links = await self._rest.get(f"assetmgmt/assets/{asset_id}/assignments")
        for link in links.get("persons", []) if isinstance(links, dict) else []:
            try:
                await self._rest.send("DELETE", f"assetmgmt/assets/{asset_id}/assignments/{link['linkId']}", {})
            except NotFound:
                pass  # unlinked by our own earlier, retried call
        cfg = self._config
        await self._rest.send("PATCH", f"assetmgmt/assets/{asset_id}", {
            cfg.asset_status_field: self._status_value("new"), cfg.asset_external_ref_field: ""})
        return await self.get(asset_id, catalog)

    async def _claim(self, candidate: Asset, external_ref: str) -> bool:
        cfg = self._config
        body, etag = await self._rest.get_with_etag(f"assetmgmt/assets/{candidate.id}")
        data = body["data"]
        if (self._port_status(str(data.get(cfg.asset_status_field) or "")) != "new"
                or data.get(cfg.asset_external_ref_field)):
            return False  # taken since the search
        update = {cfg.asset_status_field: self._status_value("allocated"), cfg.asset_external_ref_field: external_ref}
        try:
            await self._rest.send("PATCH", f"assetmgmt/assets/{candidate.id}", update,
                                  headers={"If-Match": etag} if etag else None)
        except Conflict:
            log.info("asset %s changed while claiming it; re-reading", candidate.name)
        after = await self._rest.get(f"assetmgmt/assets/{candidate.id}")
        return str(after["data"].get(cfg.asset_external_ref_field) or "") == external_ref

    async def _complete(self, asset: Asset, catalog: str, holder: str | None) -> Asset:
        """Link the holder (when given and not linked yet) and return the asset as stored."""
        if holder is not None and holder.casefold() not in (h.casefold() for h in asset.held_by):
            person = await self._rest.ensure_person(holder)
            await self._rest.send("PUT", f"assetmgmt/assets/{asset.id}/assignments",
                                  {"linkType": "person", "linkToId": person.id})
        return await self.get(asset.id, catalog)
