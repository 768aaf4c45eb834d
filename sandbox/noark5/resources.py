"""Entity operations: render, list (OData), template, create, read, update, delete."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from starlette.requests import Request
from starlette.responses import Response

from sandbox.noark5.catalogue import code_lists, vsm_types
from sandbox.noark5.links import COLLECTIONS, LINKED_NEW, Hrefs
from sandbox.noark5.odata import (
    FilterError,
    compile_filter,
    compile_orderby,
    matches_search,
    plain_equality_literal,
)
from sandbox.noark5.responses import ApiError, check_etag, noark_response, read_json
from sandbox.noark5.schema import KINDS, SERVER_FIELDS, ValidationError, validate
from sandbox.noark5.store import Obj, Store

__all__ = ["Ctx", "now_oslo", "today_oslo", "new_object", "render", "list_objects", "template",
           "create", "read", "update", "remove"]

OSLO = ZoneInfo("Europe/Oslo")
FILTER_ONLY = frozenset({"part", "nasjonalidentifikator", "klasse", "merknad", "kryssreferanse",
                         "korrespondansepart", "dokumentbeskrivelse", "personidentifikator"})
"""Standard relations the sandbox does not store: filtering on them matches nothing (not 400)."""
_FILE_FIELDS = ("format", "mimeType", "filnavn", "sjekksum", "sjekksumAlgoritme", "filstoerrelse")


def now_oslo() -> datetime:
    return datetime.now(OSLO)


def today_oslo() -> str:
    """Today as an ISO 8601 date with the Oslo offset, e.g. ``2026-03-05+01:00``."""
    now = now_oslo()
    return now.date().isoformat() + now.isoformat()[-6:]


@dataclass
class Ctx:
    """What one request's handlers need."""

    request: Request
    store: Store
    hrefs: Hrefs
    user: str
    page_size: int
    params: dict[str, str]
    kinds: dict[str, str] = field(default_factory=dict)  # systemID → kind, for parent links

    def kind_of(self, system_id: str) -> str | None:
        if system_id not in self.kinds:
            obj = self.store.get(system_id)
            if obj is None:
                return None
            self.kinds[system_id] = obj.kind
        return self.kinds[system_id]


def render(ctx: Ctx, obj: Obj) -> dict[str, Any]:
    parent_kind = ctx.kind_of(obj.parent_id) if obj.parent_id else None
    parent = (parent_kind, obj.parent_id) if parent_kind and obj.parent_id else None
    return {**obj.data, "_links": ctx.hrefs.entity_links(obj.kind, obj.system_id, parent)}


def _entity_response(ctx: Ctx, obj: Obj, status: int = 200) -> Response:
    headers = {"ETag": obj.etag}
    if status == 201:
        headers["Location"] = ctx.hrefs.entity(obj.kind, obj.system_id)
    return noark_response(render(ctx, obj), ctx.request, status, headers)


def _int_param(ctx: Ctx, name: str) -> int | None:
    raw = ctx.params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ApiError(400, f"{name} must be a non-negative integer, got {raw!r}")
    return value


def list_objects(ctx: Ctx, collection: str, parent_id: str | None, list_rel: str,
                 linked_to: str | None = None) -> Response:
    """A list: everything of ``collection`` below ``parent_id`` (or anywhere, if None), or
    associated with ``linked_to``."""
    kinds = COLLECTIONS[collection]
    known = frozenset().union(FILTER_ONLY, *(KINDS[k].fields for k in kinds))
    if linked_to is not None:
        objects = ctx.store.associated(linked_to, kinds)
    else:
        objects = ctx.store.children(parent_id, kinds, containing=plain_equality_literal(ctx.params.get("$filter")))
    by_id = {o.system_id: o for o in objects}
    items = [o.data for o in objects]
    try:
        if ctx.params.get("$search"):
            items = [i for i in items if matches_search(ctx.params["$search"], i)]
        if ctx.params.get("$filter"):
            predicate = compile_filter(ctx.params["$filter"], known)
            items = [i for i in items if predicate(i)]
        if ctx.params.get("$orderby"):
            compile_orderby(ctx.params["$orderby"], known)(items)
    except FilterError as exc:
        raise ApiError(400, str(exc)) from exc
    top, skip = _int_param(ctx, "$top"), _int_param(ctx, "$skip") or 0
    end = len(items) if top is None else min(len(items), skip + top)
    page = items[skip:min(end, skip + ctx.page_size)]
    self_href = _href_with(ctx, {})
    next_href = None
    if skip + len(page) < end:
        changes: dict[str, str | None] = {"$skip": str(skip + len(page))}
        if top is not None:
            changes["$top"] = str(top - len(page))
        next_href = _href_with(ctx, changes)
    body: dict[str, Any] = {"count": len(items)}
    if page:  # the standard: an empty list has no "results" member
        body["results"] = [render(ctx, by_id[i["systemID"]]) for i in page]
    body["_links"] = ctx.hrefs.list_links(self_href, list_rel, next_href)
    return noark_response(body, ctx.request)


def _href_with(ctx: Ctx, changes: dict[str, str | None]) -> str:
    params = {**ctx.params, **changes}
    url = ctx.request.url
    base = f"{url.scheme}://{url.netloc}{url.path}"
    query = urlencode({k: v for k, v in params.items() if v is not None}, safe="$/:',()")
    return f"{base}?{query}" if query else base


def _defaults(kind: str) -> dict[str, Any]:
    today = today_oslo()
    medium = {"kode": "E", "kodenavn": "Elektronisk arkiv"}
    defaults: dict[str, dict[str, Any]] = {
        "arkivdel": {"arkivdelstatus": {"kode": "A", "kodenavn": "Aktiv periode"},
                     "dokumentmedium": {"kode": "E", "kodenavn": "Elektronisk arkiv"}},
        "mappe": {"dokumentmedium": medium, "virksomhetsspesifikkeMetadata": None},
        "registrering": {"dokumentmedium": medium, "virksomhetsspesifikkeMetadata": None},
        "saksmappe": {"saksdato": today, "saksstatus": {"kode": "B", "kodenavn": "Under behandling"},
                      "dokumentmedium": {"kode": "E", "kodenavn": "Elektronisk arkiv"},
                      "virksomhetsspesifikkeMetadata": None},
        "journalpost": {"journalposttype": {"kode": "I", "kodenavn": "Inngående dokument"},
                        "journalstatus": {"kode": "J", "kodenavn": "Journalført"},
                        "dokumentetsDato": today, "virksomhetsspesifikkeMetadata": None},
        "korrespondansepartperson": {"korrespondanseparttype": {"kode": "EA", "kodenavn": "Avsender"}},
        "dokumentbeskrivelse": {"dokumenttype": {"kode": "B", "kodenavn": "Brev"},
                                "dokumentstatus": {"kode": "B", "kodenavn": "Dokumentet er under redigering"},
                                "tilknyttetRegistreringSom": {"kode": "H", "kodenavn": "Hoveddokument"}},
        "dokumentobjekt": {"versjonsnummer": 1,
                           "variantformat": {"kode": "A", "kodenavn": "Arkivformat"}},
    }
    return defaults.get(kind, {})


def template(ctx: Ctx, kind: str) -> Response:
    """GET on a ``ny-*`` link: a pre-filled legal object, without a ``self`` link."""
    return noark_response({**_defaults(kind), "_links": ctx.hrefs.metadata_links(kind)}, ctx.request)


def _server_fields(ctx: Ctx, kind: str, parent: Obj | None) -> dict[str, Any]:
    now = now_oslo()
    fields: dict[str, Any] = {"opprettetDato": now.isoformat(), "opprettetAv": ctx.user}
    if kind in ("saksmappe", "mappe"):  # one series, so a mappeID is unique across both
        seq = ctx.store.next_number(f"saksmappe:{now.year}")
        fields["mappeID"] = f"{now.year}/{seq}"
        if kind == "saksmappe":
            fields.update(saksaar=now.year, sakssekvensnummer=seq)
    elif kind == "registrering" and parent is not None:
        number = ctx.store.next_number(f"journalpostnummer:{parent.system_id}")
        fields["registreringsID"] = f"{parent.data.get('mappeID', now.year)}-{number}"
    elif kind == "journalpost" and parent is not None:
        seq = ctx.store.next_number(f"journalpost:{now.year}")
        number = ctx.store.next_number(f"journalpostnummer:{parent.system_id}")
        fields.update(journalaar=now.year, journalsekvensnummer=seq, journalpostnummer=number,
                      journaldato=today_oslo(),
                      registreringsID=f"{parent.data.get('mappeID', now.year)}-{number}")
    elif kind == "dokumentbeskrivelse" and parent is not None:
        fields.update(dokumentnummer=ctx.store.next_number(f"dokumentnummer:{parent.system_id}"),
                      tilknyttetDato=now.isoformat(), tilknyttetAv=ctx.user)
    return fields


def new_object(ctx: Ctx, kind: str, parent: Obj | None, data: dict[str, Any]) -> Obj:
    client = {k: v for k, v in data.items() if k not in SERVER_FIELDS}
    if kind == "saksmappe" and not client.get("saksdato"):
        client["saksdato"] = _defaults("saksmappe")["saksdato"]
    clean = _validate(ctx, kind, client)
    clean.update(_server_fields(ctx, kind, parent))
    return ctx.store.insert(kind, parent.system_id if parent else None, clean)


def _validate(ctx: Ctx, kind: str, data: dict[str, Any]) -> dict[str, Any]:
    try:
        return validate(KINDS[kind], data, code_lists(ctx.store), vsm_types(ctx.store))
    except ValidationError as exc:
        raise ApiError(400, str(exc)) from exc


async def create(ctx: Ctx, kind: str, parent: Obj | None) -> Response:
    """POST on a ``ny-*`` link: 201, ``Location`` and the full object.

    An arkiv made from an arkivskaper (and an arkivskaper made from an arkiv) is not
    below it but associated with it: the two are many-to-many in the standard.
    """
    data = await read_json(ctx.request)
    if parent is not None and (parent.kind, kind) in LINKED_NEW:
        obj = new_object(ctx, kind, None, data)
        ctx.store.associate(parent.system_id, obj.system_id)
    else:
        obj = new_object(ctx, kind, parent, data)
    return _entity_response(ctx, obj, 201)


def read(ctx: Ctx, obj: Obj) -> Response:
    return _entity_response(ctx, obj)


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON Merge Patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


async def update(ctx: Ctx, obj: Obj, merge: bool) -> Response:
    """PUT (whole object) or PATCH (merge patch), guarded by ETag/If-Match."""
    check_etag(ctx.request, obj.etag)
    body = await read_json(ctx.request)
    body.pop("_links", None)
    locked = set(SERVER_FIELDS)
    if obj.kind == "dokumentobjekt" and ctx.store.has_file(obj.system_id):
        locked.update(_FILE_FIELDS)
    current = {k: v for k, v in obj.data.items() if k not in locked}
    wanted = {k: v for k, v in body.items() if k not in locked}
    merged = _merge_patch(current, wanted) if merge else wanted
    clean = _validate(ctx, obj.kind, merged)
    kept = {k: v for k, v in obj.data.items() if k in locked}
    now = now_oslo()
    updated = ctx.store.update(obj, {**clean, **kept, "endretDato": now.isoformat(), "endretAv": ctx.user})
    return _entity_response(ctx, updated)


def remove(ctx: Ctx, obj: Obj) -> Response:
    check_etag(ctx.request, obj.etag)
    ctx.store.delete(obj.system_id)
    return Response(status_code=204)
