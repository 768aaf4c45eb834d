"""``{api}/metadata/...``: the code lists and the virksomhetsspesifikkeMetadata catalogue.

N5WS v1.1 chapter 7, "Kodelister": GET on the ``metadata/`` relation lists, for each
code list of the packages served (Arkivstruktur and Sakarkiv), the list's relation and its
``ny-`` relation; the catalogue of virksomhetsspesifikkeMetadata fields (chapter 6,
"Metadatakatalog for virksomhetsspesifikke metadata") has the relation
``metadata/virksomhetsspesifikkeMetadata/`` and grows through
``metadata/ny-virksomhetsspesifikkeMetadata/``. Layout (hrefs are the sandbox's own)::

    {api}/metadata/                                   the catalogue of relations
    {api}/metadata/<liste>/[<kode>/]                  a code list | one value
    {api}/metadata/ny-<liste>/                        template (GET) / add a value (POST)
    {api}/metadata/virksomhetsspesifikkeMetadata/[<systemID>/]    the fields | one field
    {api}/metadata/ny-virksomhetsspesifikkeMetadata/  template (GET) / add a field (POST)

Chapter 7's VirksomhetsspesifikkeMetadata class spells the relation in lower case
(``.../virksomhetsspesifikkemetadata/``); the catalogue offers that spelling too.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from starlette.responses import Response

from sandbox.noark5.catalogue import (
    CODE_KIND,
    VSM_KIND,
    check_new_code,
    check_new_vsm,
    code_lists,
    vsm_fields,
)
from sandbox.noark5.codes import CODE_LISTS, rel_name
from sandbox.noark5.links import REL, VSM, link
from sandbox.noark5.resources import Ctx, now_oslo
from sandbox.noark5.responses import ApiError, noark_response, read_json
from sandbox.noark5.schema import ValidationError, parse_temporal

__all__ = ["handle_metadata"]

_BY_REL = {rel_name(name): name for name in CODE_LISTS}


async def handle_metadata(ctx: Ctx, rest: list[str], method: str,
                          allow: Callable[..., None]) -> Response:
    if not rest:
        allow(method, "GET")
        return noark_response(_catalogue(ctx), ctx.request)
    head = rest[0]
    if head.lower() == VSM.lower():
        allow(method, "GET")
        return _vsm_list(ctx) if len(rest) == 1 else _vsm_one(ctx, "/".join(rest[1:]))
    if head.lower() == f"ny-{VSM.lower()}" and len(rest) == 1:
        allow(method, "GET", "POST")
        return _vsm_template(ctx) if method == "GET" else await _vsm_create(ctx)
    if head.startswith("ny-") and len(rest) == 1:
        code_list = _code_list(head[3:])
        allow(method, "GET", "POST")
        return _code_template(ctx, code_list) if method == "GET" else await _code_create(ctx, code_list)
    code_list = _code_list(head)
    allow(method, "GET")
    if len(rest) > 1:  # one value; PRONOM codes contain a slash (fmt/95)
        return _code_one(ctx, code_list, "/".join(rest[1:]))
    return _code_list_response(ctx, code_list)


def _code_list(name: str) -> str:
    code_list = _BY_REL.get(name.lower())
    if code_list is None:
        raise ApiError(404, f"no such code list: {name}")
    return code_list


def _catalogue(ctx: Ctx) -> dict[str, Any]:
    api = ctx.hrefs.api
    links = {"self": link(f"{api}/metadata/")}
    for key in _BY_REL:
        links[f"{REL}metadata/{key}/"] = link(f"{api}/metadata/{key}/")
        links[f"{REL}metadata/ny-{key}/"] = link(f"{api}/metadata/ny-{key}/")
    for spelling in (VSM, VSM.lower()):
        links[f"{REL}metadata/{spelling}/"] = link(f"{api}/metadata/{VSM}/")
    links[f"{REL}metadata/ny-{VSM}/"] = link(f"{api}/metadata/ny-{VSM}/")
    return {"_links": dict(sorted(links.items()))}


def _list_links(ctx: Ctx, key: str) -> dict[str, Any]:
    href = f"{ctx.hrefs.api}/metadata/{key}/"
    links = {"self": link(href), f"{REL}metadata/{key}/": link(href),
             f"{REL}metadata/ny-{key}/": link(f"{ctx.hrefs.api}/metadata/ny-{key}/")}
    return dict(sorted(links.items()))


def _code_value(ctx: Ctx, code_list: str, code: str, kodenavn: str) -> dict[str, Any]:
    key = rel_name(code_list)
    me = link(f"{ctx.hrefs.api}/metadata/{key}/{code}/")
    return {"kode": code, "kodenavn": kodenavn, "_links": {"self": me, f"{REL}metadata/{key}/": me}}


def _code_list_response(ctx: Ctx, code_list: str) -> Response:
    codes = code_lists(ctx.store)[code_list]
    results = [_code_value(ctx, code_list, code, name) for code, name in codes.items()]
    return noark_response({"count": len(results), "results": results,
                           "_links": _list_links(ctx, rel_name(code_list))}, ctx.request)


def _code_one(ctx: Ctx, code_list: str, code: str) -> Response:
    codes = code_lists(ctx.store)[code_list]
    if code not in codes:
        raise ApiError(404, f"{rel_name(code_list)} has no kode {code!r}")
    return noark_response(_code_value(ctx, code_list, code, codes[code]), ctx.request)


def _code_template(ctx: Ctx, code_list: str) -> Response:
    key = rel_name(code_list)
    return noark_response({"kode": None, "kodenavn": None, "beskrivelse": None, "_links": {
        f"{REL}metadata/{key}/": link(f"{ctx.hrefs.api}/metadata/{key}/")}}, ctx.request)


async def _code_create(ctx: Ctx, code_list: str) -> Response:
    data = await read_json(ctx.request)
    try:
        clean = check_new_code(ctx.store, code_list, data)
    except ValidationError as exc:
        raise ApiError(400, str(exc)) from exc
    except KeyError as exc:
        raise ApiError(409, str(exc.args[0])) from exc
    ctx.store.insert(CODE_KIND, None, clean)
    body = _code_value(ctx, code_list, clean["kode"], clean["kodenavn"])
    return noark_response(body, ctx.request, 201, {"Location": body["_links"]["self"]["href"]})


def _vsm_item(ctx: Ctx, field: dict[str, Any]) -> dict[str, Any]:
    me = link(f"{ctx.hrefs.api}/metadata/{VSM}/{field['systemID']}/")
    return {**field, "_links": {"self": me, f"{REL}metadata/{VSM}/": me}}


def _current(field: dict[str, Any]) -> bool:
    """The standard: a field whose ``utdatert`` has passed is no longer shown."""
    when = parse_temporal(field.get("utdatert"))
    return not isinstance(when, datetime) or when > now_oslo()


def _vsm_list(ctx: Ctx) -> Response:
    results = [_vsm_item(ctx, f) for f in vsm_fields(ctx.store) if _current(f)]
    return noark_response({"count": len(results), "results": results,
                           "_links": _list_links(ctx, VSM)}, ctx.request)


def _vsm_one(ctx: Ctx, system_id: str) -> Response:
    for field in vsm_fields(ctx.store):
        if field["systemID"] == system_id.strip("/"):
            return noark_response(_vsm_item(ctx, field), ctx.request)
    raise ApiError(404, f"the virksomhetsspesifikkeMetadata catalogue has no field {system_id}")


def _vsm_template(ctx: Ctx) -> Response:
    return noark_response({"navn": None, "type": "string", "beskrivelse": None, "kilde": None, "_links": {
        f"{REL}metadata/{VSM}/": link(f"{ctx.hrefs.api}/metadata/{VSM}/")}}, ctx.request)


async def _vsm_create(ctx: Ctx) -> Response:
    data = await read_json(ctx.request)
    try:
        clean = check_new_vsm(ctx.store, data)
    except ValidationError as exc:
        raise ApiError(400, str(exc)) from exc
    except KeyError as exc:
        raise ApiError(409, str(exc.args[0])) from exc
    obj = ctx.store.insert(VSM_KIND, None, clean)
    body = _vsm_item(ctx, obj.data)
    return noark_response(body, ctx.request, 201, {"Location": body["_links"]["self"]["href"]})
