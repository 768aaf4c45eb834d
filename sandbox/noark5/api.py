"""Routing of ``{base}/api/...`` requests to the resource handlers, with Basic auth.

The URL layout is the sandbox's own (clients follow relations, never build URLs)::

    {api}/                                   discovery (open, no auth)
    {api}/arkivstruktur/ | sakarkiv/         package resources with their list relations
    {api}/admin/system/ | login/rfc7617/     system information | Basic login check
    {api}/metadata/...                       code lists, VSM catalogue (sandbox.noark5.metadata)
    {api}/<package>/<list>/                  global lists (OData query options)
    {api}/arkivstruktur/ny-arkiv/ | ny-arkivskaper/   template / create at the top
    {api}/<package>/<kind>/<id>/             one object: GET, PUT, PATCH, DELETE
    {api}/<package>/<kind>/<id>/<list>/      objects below it (or, for arkiv ↔ arkivskaper,
                                             associated with it)
    {api}/<package>/<kind>/<id>/ny-<kind>/   template (GET) / create (POST) below it
    {api}/arkivstruktur/dokumentbeskrivelse/<id>/fil/     upload → new dokumentobjekt
    {api}/arkivstruktur/dokumentobjekt/<id>/referanseFil/ download / upload into it
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote_plus

from starlette.requests import Request
from starlette.responses import Response

from sandbox.noark5 import files
from sandbox.noark5.links import CHILD_LISTS, COLLECTIONS, LINKED_LISTS, NEW_CHILDREN, REL, Hrefs, link
from sandbox.noark5.metadata import handle_metadata
from sandbox.noark5.resources import Ctx, create, list_objects, read, remove, template, update
from sandbox.noark5.responses import ApiError, noark_response
from sandbox.noark5.store import Store

__all__ = ["Settings", "Noark5Api"]

PRODUCT = {"leverandoer": "OsloMet integrasjonshub", "produkt": "N5WS sandbox",
           "versjon": "0.1.0", "versjonsdato": "2026-01-15", "protokollversjon": "1.1"}


@dataclass(frozen=True)
class Settings:
    base_path: str = "/noark5v5"
    username: str = "hub"
    password: str = "sandbox-n5ws-password"
    max_upload_bytes: int = 50 * 1024 * 1024
    page_size: int = 100


def _query_params(request: Request) -> dict[str, str]:
    """Query options; also accepts a query string URL-encoded as a whole (as some clients do)."""
    raw = request.url.query
    params = dict(parse_qsl(raw, keep_blank_values=True))
    if raw and "=" not in raw and "%3d" in raw.lower():
        params = dict(parse_qsl(unquote_plus(raw), keep_blank_values=True))
    return params


class Noark5Api:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store = store
        self.settings = settings

    def _user(self, request: Request) -> str:
        header = request.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(header[6:].strip()).decode("utf-8").partition(":")
            except (binascii.Error, UnicodeDecodeError):
                user, password = "", ""
            if secrets.compare_digest(user.encode(), self.settings.username.encode()) and \
                    secrets.compare_digest(password.encode(), self.settings.password.encode()):
                return user
        raise ApiError(401, "authentication required: HTTP Basic with a valid user and password",
                       {"WWW-Authenticate": 'Basic realm="noark5", charset="UTF-8"'})

    async def handle(self, request: Request, segments: list[str]) -> Response:
        url = request.url
        hrefs = Hrefs(api=f"{url.scheme}://{url.netloc}{self.settings.base_path}/api")
        method = _method(request)
        if not segments:
            _allow(method, "GET")
            return noark_response(hrefs.root(), request)
        ctx = Ctx(request=request, store=self.store, hrefs=hrefs, user=self._user(request),
                  page_size=self.settings.page_size, params=_query_params(request))
        head, rest = segments[0], segments[1:]
        if head == "admin" and rest == ["system"]:
            _allow(method, "GET")
            system_href = f"{hrefs.api}/admin/system/"
            links = {"self": link(system_href), REL + "admin/system/": link(system_href)}
            return noark_response({**PRODUCT, "bulkgrense": self.settings.max_upload_bytes,
                                   "_links": dict(sorted(links.items()))}, request)
        if head == "login" and rest == ["rfc7617"]:
            _allow(method, "GET")
            return noark_response({"bruker": ctx.user,
                                   "_links": {"self": link(f"{hrefs.api}/login/rfc7617/")}}, request)
        if head == "metadata":
            return await handle_metadata(ctx, rest, method, _allow)
        if head not in ("arkivstruktur", "sakarkiv"):
            raise ApiError(404, f"no such resource: {'/'.join(segments)}")
        return await self._package(ctx, head, rest)

    async def _package(self, ctx: Ctx, package: str, rest: list[str]) -> Response:
        method = _method(ctx.request)
        if not rest:
            _allow(method, "GET")
            return noark_response(ctx.hrefs.package(package), ctx.request)
        if package == "arkivstruktur" and rest in (["ny-arkiv"], ["ny-arkivskaper"]):
            kind = rest[0][3:]
            _allow(method, "GET", "POST")
            return template(ctx, kind) if method == "GET" else await create(ctx, kind, None)
        if len(rest) == 1:
            if rest[0] not in COLLECTIONS:
                raise ApiError(404, f"no such list: {package}/{rest[0]}")
            _allow(method, "GET")
            return list_objects(ctx, rest[0], None, f"{package}/{rest[0]}/")
        obj = self.store.get(rest[1])
        if obj is None or obj.kind not in COLLECTIONS.get(rest[0], ()):
            raise ApiError(404, f"no {rest[0]} with systemID {rest[1]}")
        if len(rest) == 2:
            _allow(method, "GET", "PUT", "PATCH", "DELETE")
            if method == "GET":
                return read(ctx, obj)
            if method == "DELETE":
                return remove(ctx, obj)
            return await update(ctx, obj, merge=method == "PATCH")
        if len(rest) != 3:
            raise ApiError(404, f"no such resource: {'/'.join(rest)}")
        sub = rest[2]
        limit = self.settings.max_upload_bytes
        if sub == "fil" and obj.kind == "dokumentbeskrivelse":
            _allow(method, "POST")
            return await files.upload_new(ctx, obj, limit)
        if sub == "referanseFil" and obj.kind == "dokumentobjekt":
            _allow(method, "GET", "POST", "PUT")
            return files.download(ctx, obj) if method == "GET" else await files.upload_into(ctx, obj, limit)
        for child_package, name in CHILD_LISTS.get(obj.kind, ()):
            if sub == name:
                _allow(method, "GET")
                return list_objects(ctx, name, obj.system_id, f"{child_package}/{name}/")
        if obj.kind in LINKED_LISTS and sub == LINKED_LISTS[obj.kind][1]:
            _allow(method, "GET")
            linked_package, name = LINKED_LISTS[obj.kind]
            return list_objects(ctx, name, None, f"{linked_package}/{name}/", linked_to=obj.system_id)
        for _, kind in NEW_CHILDREN.get(obj.kind, ()):
            if sub == f"ny-{kind}":
                _allow(method, "GET", "POST")
                return template(ctx, kind) if method == "GET" else await create(ctx, kind, obj)
        raise ApiError(404, f"{obj.kind} has no resource '{sub}'")


def _method(request: Request) -> str:
    """HEAD is GET without a body (the server drops the body)."""
    return "GET" if request.method == "HEAD" else request.method


def _allow(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise ApiError(405, f"{method} is not allowed here; use {', '.join(allowed)}",
                       {"Allow": ", ".join(allowed)})
