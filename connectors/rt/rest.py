"""RT REST2 over the hub's HTTP policy: token auth, searches, ETags, name lookups.

Every call goes through :class:`hub.http.ApiClient`, so RT's error bodies
(``{"message": "..."}``) become :mod:`hub.errors` exceptions: 401/403 → ConfigError,
404 → NotFound, 412 → Conflict, 400 → InvalidInput, 429/502/503/504 → retried.

A create (``POST /ticket``) is *not* blindly retried: a timeout after RT stored the
ticket would open a second one. :meth:`RtRest.create_once` sends it once; the caller
(:func:`hub.once.ensure_by_key`) looks the record up by its external reference before trying again.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from connectors.rt.config import RtConfig
from connectors.rt.pagination import Pager
from hub.errors import MalformedResponse, NotFound, PermanentError
from hub.http import ApiClient, error_body, parse_json, parse_model
from hub.once import no_retry

__all__ = ["RtRest", "SYSTEM", "parse", "describe_error"]

SYSTEM = "rt"

M = TypeVar("M", bound=BaseModel)


def parse(model: type[M], data: Any, what: str) -> M:
    """A REST2 record as ``model``; one that does not fit is ``InvalidInput`` naming the fields."""
    return parse_model(model, data, system=SYSTEM, what=what,
                       hint=f"RT answered {what} in a shape this connector does not read; check that base_url "
                            "points at RT 5 with REST2, and the record in RT, then replay the item.")


def describe_error(response: httpx.Response) -> str | None:
    """The reason in a REST2 error body, ``{"message": ...}`` (the hub's hook)."""
    body = error_body(response)
    message = body.get("message") if isinstance(body, dict) else None
    return str(message) if message else None


class RtRest:
    def __init__(self, config: RtConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        headers = {"Authorization": f"token {config.auth_token().get_secret_value()}",
                   "Accept": "application/json"}
        policy = config.policy()
        self.api = ApiClient(SYSTEM, config.rest_url, headers=headers, policy=policy, transport=transport,
                             describe_error=describe_error)
        self._once = ApiClient(SYSTEM, config.rest_url, headers=headers, transport=transport,
                               policy=no_retry(policy), describe_error=describe_error)
        self._queue_names: dict[str, str] = {}
        self._catalog_ids: dict[str, str] = {}

    async def aclose(self) -> None:
        await self.api.aclose()
        await self._once.aclose()

    async def get(self, path: str) -> tuple[dict[str, Any], str | None]:
        """A record and its ETag (for ``If-Match``)."""
        response = await self.api.request("GET", path)
        body = self._decode(response)
        return body, response.headers.get("ETag")

    async def put(self, path: str, body: Mapping[str, Any], *, etag: str | None = None) -> list[str]:
        """Update a record; RT answers with a list of messages (also for partial failures)."""
        headers = {"If-Match": etag} if etag else {}
        response = await self.api.request("PUT", path, json=dict(body), headers=headers)
        messages = self._decode(response)
        return [str(m) for m in messages] if isinstance(messages, list) else []

    async def post(self, path: str, body: Mapping[str, Any]) -> Any:
        response = await self.api.request("POST", path, json=dict(body))
        return self._decode(response) if response.content else None

    async def create_once(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST`` that creates a record, sent exactly once (see module docstring)."""
        response = await self._once.request("POST", path, json=dict(body))
        created = self._decode(response)
        if not isinstance(created, dict) or "id" not in created:
            raise PermanentError(f"RT answered {response.status_code} to POST {path} without an id",
                                 system=SYSTEM)
        return created

    def _decode(self, response: httpx.Response) -> Any:
        return parse_json(response, SYSTEM)  # not JSON at all: MalformedResponse (transient)

    async def _search_page(self, collection: str, query: str | None, params: Mapping[str, str | int], *,
                           post: bool) -> Any:
        params = {"orderby": "id", **params}
        if post:
            return await self.api.json("POST", collection, params=params, data={"query": query or ""})
        return await self.api.json("GET", collection, params={**params, **({"query": query} if query else {})})

    async def search(self, collection: str, query: str | None, fields: Mapping[str, str], *,
                     post: bool = False, per_page: int | None = None) -> list[dict[str, Any]]:
        """Every item of a collection or TicketSQL/AssetSQL search, walking all pages."""
        return [item async for page in self.search_pages(collection, query, fields, post=post, per_page=per_page)
                for item in page]

    async def search_pages(self, collection: str, query: str | None, fields: Mapping[str, str], *,
                           post: bool = False, per_page: int | None = None) -> AsyncGenerator[list[dict[str, Any]], None]:
        """The items of a search a page at a time, read only as the caller goes on: for one that
        wants the first few (a free laptop), not all of them."""
        pager = Pager(per_page=per_page or self.config.per_page, max_pages=self.config.max_pages,
                      system=SYSTEM)
        while not pager.finished:
            body = await self._search_page(collection, query, {**fields, **pager.params()}, post=post)
            yield pager.accept(body)

    async def search_one_page(self, collection: str, query: str, fields: Mapping[str, str], *,
                              post: bool = False) -> list[dict[str, Any]]:
        """First page only: for lookups by id that match at most one record."""
        body = await self._search_page(collection, query, {**fields, "per_page": 1}, post=post)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):  # not "nothing found": the answer is not a collection at all
            raise MalformedResponse(f"a search of {collection} did not answer an RT collection", system=SYSTEM,
                                    hint="The answer is not the collection asked for (a proxy or the peer "
                                         "failing); it is retried. If it persists, check that base_url points "
                                         "at RT and REST2 is enabled.")
        return [i for i in items if isinstance(i, dict)]

    async def queue_name(self, queue_id: str) -> str:
        if queue_id not in self._queue_names:
            body, _ = await self.get(f"queue/{queue_id}")
            self._queue_names[queue_id] = str(body.get("Name", queue_id))
        return self._queue_names[queue_id]

    async def catalog_id(self, name: str) -> str:
        """Numeric id of the catalog called ``name`` among those the hub can see.

        RT answers 403 both for a catalog that does not exist and for one the hub may not
        see, so the name is looked up in ``/catalogs/all`` instead.
        """
        if name not in self._catalog_ids:
            for item in await self.search("catalogs/all", None, {"fields": "Name"}):
                self._catalog_ids.setdefault(str(item.get("Name")), str(item["id"]))
            if name not in self._catalog_ids:
                raise NotFound(f"RT asset catalog {name!r} does not exist or is not visible to the hub",
                               system=SYSTEM, status=404,
                               hint="Check the catalog name and the hub user's ShowCatalog right.")
        return self._catalog_ids[name]

    async def version(self) -> str | None:
        body = await self.api.json("GET", "rt")
        return str(body.get("Version")) if isinstance(body, dict) and body.get("Version") else None
