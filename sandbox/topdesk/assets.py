"""Asset Management, a faithful subset (below ``/tas/api/assetmgmt``)::

    GET    /templates                                   → {"dataSet": [{id, text}]}
    GET    /assets?templateName=Laptop&fields=model,lifecycle-status&$filter=&linkedTo=person/{id}
           &nameFragment=&archived=&showAssignments=true&pageStart=&pageSize=   → 200 | 206
    GET    /assets/{id}                                 → {"data": {...}, "metadata": {...}} + ETag
    PATCH  /assets/{id}   (also POST)  {"<field id>": value, "@etag"?}  If-Match → 412 when stale
    GET    /assets/{id}/assignments                     → {"persons": [...], "locations": [], ...}
    PUT    /assets/{id}/assignments  (also POST)        {"linkType": "person", "linkToId": id}
    DELETE /assets/{id}/assignments/{linkId}

``$filter`` understands ``<field> eq '<value>'`` and ``ne``, joined with ``and``; text
compares case-insensitively. Every change gives the asset a new ``@etag``; an update with
a stale ``If-Match`` header (or ``@etag`` in the body) is refused with 412 — checked and
written under one lock, so two allocators holding the same ETag cannot both win.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.topdesk.responses import ApiError, int_param, json_object
from sandbox.topdesk.store import TopdeskStore, td_timestamp

__all__ = ["asset_routes", "parse_filter"]

_CONDITION = re.compile(r"^\s*([A-Za-z0-9_@.\-]+)\s+(eq|ne)\s+(?:'((?:[^']|'')*)'|(null))\s*$")


_AND = re.compile(r"\s+and\s+", re.IGNORECASE)


def _split_and(text: str) -> list[str]:
    """Split on ``and`` outside single-quoted values (``''`` inside quotes is a quote)."""
    parts: list[str] = []
    start = index = 0
    quoted = False
    while index < len(text):
        if text[index] == "'":
            if quoted and text.startswith("''", index):
                index += 2
                continue
            quoted = not quoted
        elif not quoted:
            match = _AND.match(text, index)
            if match and index > start:
                parts.append(text[start:index])
                index = start = match.end()
                continue
        index += 1
    parts.append(text[start:])
    return parts


def parse_filter(text: str) -> list[tuple[str, str, str | None]]:
    """``a eq 'x' and b ne 'y'`` → ``[(a, eq, x), (b, ne, y)]`` (``''`` is a quote)."""
    conditions: list[tuple[str, str, str | None]] = []
    for part in _split_and(text):
        match = _CONDITION.match(part)
        if not match:
            raise ApiError(400, f"Cannot parse $filter condition {part.strip()!r}; the sandbox understands "
                                "\"<field> eq '<value>'\" and 'ne', joined with 'and'.")
        value = None if match.group(4) else match.group(3).replace("''", "'")
        conditions.append((match.group(1), match.group(2), value))
    return conditions


def asset_routes(store: TopdeskStore) -> list[Route]:
    def template_of(asset: dict[str, Any]) -> dict[str, Any]:
        template: dict[str, Any] = store.table("templates")[asset["templateId"]]
        return template

    def find(asset_id: str) -> dict[str, Any]:
        asset = store.table("assets").get(asset_id)
        if asset is None:
            raise ApiError(404, f"No asset found with id {asset_id!r}.")
        return asset  # type: ignore[no-any-return]

    def assignments(asset_id: str) -> dict[str, Any]:
        persons = []
        for link in store.table("assignments").get(asset_id, []):
            person = store.table("persons").get(link["linkToId"], {})
            persons.append({"linkId": link["linkId"], "linkType": "person",
                            "person": {"id": link["linkToId"], "name": person.get("dynamicName", "")}})
        return {"persons": persons, "personGroups": [], "locations": [], "branches": []}

    def value_of(asset: dict[str, Any], key: str) -> Any:
        if key in ("id", "unid"):
            return asset["id"]
        if key == "archived":
            return asset["archived"]
        return asset["fields"].get(key)

    def item(asset: dict[str, Any], fields: list[str], with_assignments: bool) -> dict[str, Any]:
        template = template_of(asset)
        out: dict[str, Any] = {"id": asset["id"], "unid": asset["id"], "name": asset["fields"]["name"],
                               "archived": asset["archived"], "@etag": asset["etag"]}
        for key in fields:
            if key == "@type":
                out["@type"] = {"id": template["id"], "name": template["text"], "icon": template["icon"]}
            elif key == "@status":
                out["@status"] = "OPERATIONAL"
            elif key == "@assignments":
                with_assignments = True
            elif key in asset["fields"]:
                out[key] = asset["fields"][key]
        if with_assignments:
            out["@assignments"] = assignments(asset["id"])
        return out

    def detail(asset: dict[str, Any]) -> JSONResponse:
        template = template_of(asset)
        data = {"id": asset["id"], "unid": asset["id"], "archived": asset["archived"], "@etag": asset["etag"],
                "@status": "OPERATIONAL", "modificationDate": asset["modificationDate"], **asset["fields"]}
        body = {"data": data, "metadata": {"templateId": template["id"], "templateName": template["text"]}}
        return JSONResponse(body, headers={"ETag": f'"{asset["etag"]}"'})

    def touch(asset: dict[str, Any]) -> None:
        asset["version"] = int(asset.get("version", 0)) + 1
        asset["etag"] = f"{asset['version']}-{uuid.uuid4().hex[:12]}"
        asset["modificationDate"] = td_timestamp()

    async def templates(request: Request) -> Response:
        return JSONResponse({"dataSet": [{"id": t["id"], "text": t["text"]} for t in store.table("templates").values()]})

    async def list_assets(request: Request) -> Response:
        params = request.query_params
        items = list(store.table("assets").values())
        if params.get("templateName"):
            items = [a for a in items if template_of(a)["text"] == params["templateName"]]
        if params.get("templateId"):
            items = [a for a in items if a["templateId"] == params["templateId"]]
        if params.get("archived") in ("true", "false"):
            items = [a for a in items if a["archived"] == (params["archived"] == "true")]
        if params.get("nameFragment"):
            items = [a for a in items if params["nameFragment"].casefold() in a["fields"]["name"].casefold()]
        if params.get("linkedTo"):
            kind, _, target = params["linkedTo"].partition("/")
            if kind != "person" or not target:
                raise ApiError(400, "The sandbox understands linkedTo=person/<id> only.")
            items = [a for a in items if any(link["linkToId"] == target
                                             for link in store.table("assignments").get(a["id"], []))]
        for key, op, value in parse_filter(params["$filter"]) if params.get("$filter") else []:
            def hit(asset: dict[str, Any], key: str = key, value: str | None = value) -> bool:
                actual = value_of(asset, key)
                if value is None:
                    return actual in (None, "")
                return str(actual if actual is not None else "").casefold() == value.casefold()
            items = [a for a in items if hit(a) == (op == "eq")]
        start = int_param(request, "pageStart", 0)
        size = int_param(request, "pageSize", 50, minimum=1, maximum=1000)
        fields = [f.strip() for f in params.get("fields", "").split(",") if f.strip()]
        page = [item(a, fields, params.get("showAssignments") == "true") for a in items[start:start + size]]
        return JSONResponse({"dataSet": page}, status_code=206 if start + size < len(items) else 200)

    async def get_asset(request: Request) -> Response:
        return detail(find(request.path_params["id"]))

    async def update_asset(request: Request) -> Response:
        payload = await json_object(request)
        given = request.headers.get("If-Match") or payload.pop("@etag", None)
        with store.lock:
            asset = find(request.path_params["id"])
            template = template_of(asset)
            if given is not None:
                tag = str(given).strip()
                tag = tag[2:] if tag.startswith("W/") else tag
                if tag.strip('"') != asset["etag"]:
                    raise ApiError(412, "The asset was changed by someone else since you read it (stale ETag); "
                                        "read it again.")
            for key, value in payload.items():
                if key not in template["fields"]:
                    raise ApiError(400, f"The template {template['text']!r} has no field {key!r}.")
                if value is not None and not isinstance(value, str):
                    raise ApiError(400, f"The field {key!r} takes a text value.")
                choices = template["choices"].get(key)
                if choices and value not in choices:
                    raise ApiError(400, f"{value!r} is not an option of {key!r}: {', '.join(choices)}.")
                if key == "name" and not value:
                    raise ApiError(400, "The field 'name' is mandatory.")
            asset["fields"].update({k: (v or "") for k, v in payload.items()})
            touch(asset)
            store.save()
            return detail(asset)

    async def get_assignments(request: Request) -> Response:
        return JSONResponse(assignments(find(request.path_params["id"])["id"]))

    async def assign(request: Request) -> Response:
        payload = await json_object(request)
        if payload.get("linkType") != "person":
            raise ApiError(400, "The sandbox supports linkType 'person' only.")
        person_id = str(payload.get("linkToId") or "")
        with store.lock:
            asset = find(request.path_params["id"])
            if person_id not in store.table("persons"):
                raise ApiError(400, f"No person found with id {person_id!r}.")
            links = store.table("assignments").setdefault(asset["id"], [])
            if not any(link["linkToId"] == person_id for link in links):
                links.append({"linkId": str(uuid.uuid4()), "linkType": "person", "linkToId": person_id})
                touch(asset)
                store.save()
        return JSONResponse(assignments(asset["id"]))

    async def unassign(request: Request) -> Response:
        with store.lock:
            asset = find(request.path_params["id"])
            links = store.table("assignments").get(asset["id"], [])
            kept = [link for link in links if link["linkId"] != request.path_params["link"]]
            if len(kept) == len(links):
                raise ApiError(404, f"No assignment {request.path_params['link']!r} on this asset.")
            store.table("assignments")[asset["id"]] = kept
            touch(asset)
            store.save()
        return Response(status_code=204)

    prefix = "/tas/api/assetmgmt"
    return [
        Route(f"{prefix}/templates", templates, methods=["GET"]),
        Route(f"{prefix}/assets", list_assets, methods=["GET"]),
        Route(f"{prefix}/assets/{{id}}", get_asset, methods=["GET"]),
        Route(f"{prefix}/assets/{{id}}", update_asset, methods=["PATCH", "POST"]),
        Route(f"{prefix}/assets/{{id}}/assignments", get_assignments, methods=["GET"]),
        Route(f"{prefix}/assets/{{id}}/assignments", assign, methods=["PUT", "POST"]),
        Route(f"{prefix}/assets/{{id}}/assignments/{{link}}", unassign, methods=["DELETE"]),
    ]
