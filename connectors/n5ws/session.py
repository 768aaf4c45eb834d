"""Relation-driven HTTP for N5WS: discovery, lists with paging, create, update, files.

Everything goes through :class:`hub.http.ApiClient` (retry policy, error tree). The only
URL the session builds is ``<base_url>/api``; every other href comes from ``_links``.
Discovered relations of the root and of the ``arkivstruktur``/``sakarkiv`` packages are
cached for the life of the session.

A ``POST`` that creates (``ny-*``, ``fil``) is sent exactly once per call, never retried by
the client: an answer lost after the core committed the write would otherwise make a
second record. The archive adapter looks the record up by its key between attempts
(:func:`hub.once.ensure_by_key`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from connectors.n5ws.config import N5wsConfig
from connectors.n5ws.hal import Rel, expand
from connectors.n5ws.models import Link, Resource
from hub.errors import Conflict, MalformedResponse, PermanentError
from hub.http import ApiClient, error_body, parse_json, parse_model
from hub.once import no_retry
from hub.paging import LinkPaginator

__all__ = ["MEDIA_TYPE", "N5wsSession", "SYSTEM", "parse", "describe_error"]

SYSTEM = "n5ws"
WRONG_SHAPE = ("The answer is not the JSON object a Noark 5 resource is (a proxy or the peer failing); it is "
               "retried. If it persists, check base_url.")
MEDIA_TYPE = "application/vnd.noark5+json"
MERGE_PATCH = "application/merge-patch+json"
MAX_PAGES = 1000

R = TypeVar("R", bound=BaseModel)


def parse(model: type[R], data: Any) -> R:
    """Validate a response body; a core answering an unexpected shape is ``InvalidInput``."""
    return parse_model(model, data, system=SYSTEM, what=f"a {model.__name__}",
                       hint="Check that base_url points at an N5WS v1.1 core, and the record in the core.")


def describe_error(response: httpx.Response) -> str | None:
    """The reason in an N5WS error body, ``{"feil": {"beskrivelse": ...}}`` (the hub's hook)."""
    body = error_body(response)
    feil = body.get("feil") if isinstance(body, dict) else None
    return str(feil["beskrivelse"]) if isinstance(feil, dict) and feil.get("beskrivelse") else None


class N5wsSession:
    def __init__(self, config: N5wsConfig, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self.http = ApiClient(
            SYSTEM, config.base_url.rstrip("/") + "/",
            headers={"Accept": MEDIA_TYPE},
            auth=(config.username, config.password.get_secret_value()),
            policy=config.policy(), transport=transport, describe_error=describe_error)
        self._once = ApiClient(  # creates: one attempt each (see the module docstring)
            SYSTEM, config.base_url.rstrip("/") + "/",
            headers={"Accept": MEDIA_TYPE},
            auth=(config.username, config.password.get_secret_value()),
            policy=no_retry(config.policy()), transport=transport, describe_error=describe_error)
        self._relations: dict[str, Link] = {}
        self._packages_read: set[str] = set()
        # Calls side by side on one session (a batch's items) discover one at a time: a root
        # read again must not reset what another call is reading of the packages.
        self._discovering = asyncio.Lock()

    async def aclose(self) -> None:
        await self.http.aclose()
        await self._once.aclose()

    # -- discovery ----------------------------------------------------------------------
    async def discover(self, refresh: bool = False) -> dict[str, Link]:
        """Relations of ``<base_url>/api`` (cached)."""
        if self._relations and not refresh:
            return self._relations
        async with self._discovering:
            if refresh or not self._relations:
                root = parse(Resource, await self._json("GET", "api"))
                self._relations, self._packages_read = dict(root.links), set()
            return self._relations

    async def relation(self, rel: str) -> Link:
        """A relation offered at the root or by the arkivstruktur/sakarkiv packages."""
        relations = await self.discover()
        if rel in relations:
            return relations[rel]
        async with self._discovering:
            relations = self._relations  # read again: another call may have refreshed it meanwhile
            for package in (Rel.SAKARKIV, Rel.ARKIVSTRUKTUR):
                if rel in relations:
                    break
                if package in relations and package not in self._packages_read:
                    resource = await self.get(relations[package].href, Resource)
                    for key, link in resource.links.items():
                        if key != "self":
                            relations.setdefault(key, link)
                    self._packages_read.add(package)
            if rel in relations:
                return relations[rel]
        raise PermanentError(f"the archive core does not offer the relation {rel}", system=SYSTEM,
                             hint="Check base_url and that the core supports N5WS sakarkiv.")

    # -- reading ------------------------------------------------------------------------
    async def _json(self, method: str, url: str, client: ApiClient | None = None, **kwargs: Any) -> Any:
        data = await (client or self.http).json(method, url, **kwargs)
        if not isinstance(data, dict):
            raise MalformedResponse(f"{method} {url} answered {type(data).__name__}, not a JSON object",
                                    system=SYSTEM, hint=WRONG_SHAPE)
        return data

    async def get(self, href: str, model: type[R]) -> R:
        return parse(model, await self._json("GET", href))

    async def get_with_etag(self, href: str, model: type[R]) -> tuple[R, str | None]:
        response = await self.http.request("GET", href)
        return parse(model, _body(response)), response.headers.get("ETag")

    async def list_all(self, link: Link, model: type[R], odata_filter: str | None = None,
                   orderby: str | None = None) -> list[R]:
        """Every result of a list relation, following ``next`` links (with loop detection)."""
        href = expand(link.href, {"$filter": odata_filter, "$orderby": orderby}) if link.templated \
            else _with_query(link.href, odata_filter, orderby)
        pages = LinkPaginator(href, system=SYSTEM, max_pages=MAX_PAGES, key=_system_id,
                              what="a list")
        results: list[R] = []
        while not pages.finished:
            page = await self._json("GET", pages.current)
            next_link = (page.get("_links") or {}).get("next")
            items = list(page.get("results") or [])
            parsed = {id(item): parse(model, item) for item in items}  # every result must fit the model
            fresh = pages.next_link(items, str(next_link["href"]) if isinstance(next_link, dict)
                                    and next_link.get("href") else None)
            results.extend(parsed[id(item)] for item in fresh)
        return results

    # -- writing ------------------------------------------------------------------------
    async def create(self, href: str, body: Mapping[str, Any], model: type[R]) -> R:
        """POST to a ``ny-*`` href, once; the core answers 201 with the new object."""
        data = await self._json("POST", href, json=dict(body), headers={"Content-Type": MEDIA_TYPE},
                                client=self._once)
        return parse(model, data)

    async def patch(self, href: str, changes: Mapping[str, Any], etag: str | None,
                    model: type[R]) -> tuple[R, str | None]:
        """Merge-patch ``href``; a core without PATCH gets a whole-object PUT instead."""
        headers = {"Content-Type": MERGE_PATCH, **_etag_headers(etag)}
        response = await self.http.request("PATCH", href, json=dict(changes), headers=headers,
                                           ok={405, 409, 415, 501})
        if response.status_code in (405, 415, 501):
            current = await self._json("GET", href)
            current.pop("_links", None)
            current.update(changes)
            headers = {"Content-Type": MEDIA_TYPE, **_etag_headers(etag)}
            response = await self.http.request("PUT", href, json=current, headers=headers, ok={409})
        if response.status_code == 409:
            raise Conflict(f"{href} changed since ETag {etag}", system=SYSTEM, status=409)
        return parse(model, _body(response)), response.headers.get("ETag")

    async def upload(self, href: str, content: bytes, media_type: str, filename: str,
                     model: type[R]) -> R:
        """POST raw bytes to a ``fil`` href, once; the core answers with a new dokumentobjekt."""
        ascii_name = filename.encode("ascii", "replace").decode("ascii").replace("?", "_").replace('"', "_")
        headers = {"Content-Type": media_type,
                   "Content-Disposition": f"attachment; filename=\"{ascii_name}\"; "
                                          f"filename*=UTF-8''{quote(filename, safe='')}"}
        return parse(model, await self._json("POST", href, content=content, headers=headers, client=self._once))

    async def download(self, href: str) -> bytes:
        response = await self.http.request("GET", href, headers={"Accept": "*/*"})
        return bytes(response.content)


def _system_id(item: dict[str, Any]) -> str | None:
    """A result's key for loop detection: its ``systemID``."""
    value = item.get("systemID")
    return str(value) if value else None


def _etag_headers(etag: str | None) -> dict[str, str]:
    """Cores disagree on the header name, so send both."""
    return {"If-Match": etag, "ETag": etag} if etag else {}


def _body(response: httpx.Response) -> dict[str, Any]:
    data = parse_json(response, SYSTEM)  # not JSON at all: MalformedResponse (transient)
    if not isinstance(data, dict):
        raise MalformedResponse(f"{response.request.url.path} answered a non-object body", system=SYSTEM,
                                hint=WRONG_SHAPE)
    return data


def _with_query(href: str, odata_filter: str | None, orderby: str | None) -> str:
    """A list href that is not templated: append the query options ourselves."""
    parts = [f"$filter={quote(odata_filter, safe='')}" if odata_filter else "",
             f"$orderby={quote(orderby, safe='')}" if orderby else ""]
    query = "&".join(p for p in parts if p)
    if not query:
        return href
    return f"{href}{'&' if '?' in href else '?'}{query}"
