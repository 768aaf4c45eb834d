"""Incidents: create, read by id or number, update (actions, status), search with FIQL.

Routes (below ``/tas/api``; see :mod:`sandbox.topdesk` for the whole list)::

    POST      /incidents                              → 201 incident
    GET       /incidents?query=&start=&page_size=&sort=&fields=   → 200 | 206 | 204
    GET       /incidents/id/{id}  /incidents/number/{number}
    PUT|PATCH /incidents/id/{id}  /incidents/number/{number}      (partial update)
    GET       /incidents/id/{id}/progresstrail  /actions  /requests
    GET       /incidents/processing_status
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.topdesk import fiql
from sandbox.topdesk.responses import ApiError, json_object, paged
from sandbox.topdesk.store import TopdeskStore, parse_td_timestamp, td_timestamp

__all__ = ["incident_routes", "SEARCHABLE", "BRIEF_MAX", "OPTIONAL_TEXT_MAX"]

BRIEF_MAX = 80
OPTIONAL_TEXT_MAX = 100
_OPTIONAL_KEYS = {f"{kind}{n}": default for n in range(1, 6) for kind, default in
                  (("boolean", False), ("number", 0.0), ("date", None), ("text", ""), ("memo", None),
                   ("searchlist", None))}
SEARCHABLE = ("id", "number", "briefDescription", "status", "closed", "completed", "operatorGroup.id",
              "operatorGroup.name", "caller.id", "caller.email", "caller.dynamicName", "processingStatus.name",
              "category.name", "targetDate", "callDate", "creationDate", "modificationDate",
              *(f"optionalFields{i}.text{n}" for i in (1, 2) for n in range(1, 6)))
_UPDATABLE = {"briefDescription", "request", "action", "actionInvisibleForCaller", "processingStatus", "closed",
              "completed", "operatorGroup", "category", "targetDate", "optionalFields1", "optionalFields2",
              "status", "callerLookup", "caller"}
_CREATABLE = _UPDATABLE - {"action", "actionInvisibleForCaller"}


def _operator(request: Request) -> dict[str, Any]:
    user = str(request.scope.get("topdesk_user", "api"))
    return {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"operator:{user}")), "name": user}


def _linked(store: TopdeskStore, table: str, name_key: str, ref: Any, what: str) -> dict[str, Any]:
    if not isinstance(ref, dict) or not (ref.get("id") or ref.get("name")):
        raise ApiError(400, f"The field '{what}' needs an object with 'id' or 'name'.")
    if ref.get("id"):
        record = store.table(table).get(str(ref["id"]))
    else:
        record = store.by_name(table, name_key, str(ref["name"]))
    if record is None:
        raise ApiError(400, f"No {what} found for {ref}.")
    return {"id": record["id"], "name": record[name_key]}


def _caller(store: TopdeskStore, payload: dict[str, Any]) -> dict[str, Any]:
    lookup = payload.get("callerLookup")
    if isinstance(lookup, dict):
        person = None
        if lookup.get("id"):
            person = store.table("persons").get(str(lookup["id"]))
        elif lookup.get("email"):
            person = store.by_name("persons", "email", str(lookup["email"]))
        elif lookup.get("networkLoginName"):
            person = store.by_name("persons", "networkLoginName", str(lookup["networkLoginName"]))
        if person is None:
            raise ApiError(400, f"No person found for callerLookup {lookup}.")
        return {"id": person["id"], "dynamicName": person["dynamicName"], "email": person.get("email", ""),
                "branch": person.get("branch")}
    caller = payload.get("caller")
    if isinstance(caller, dict) and caller.get("dynamicName"):
        return {"id": None, "dynamicName": str(caller["dynamicName"]), "email": str(caller.get("email") or ""),
                "branch": caller.get("branch")}
    raise ApiError(400, "A caller is mandatory: give 'callerLookup' or 'caller' with a 'dynamicName'.")


def _optional_fields(current: dict[str, Any], given: Any, which: str) -> dict[str, Any]:
    if not isinstance(given, dict):
        raise ApiError(400, f"The field '{which}' must be an object.")
    merged = dict(current)
    for key, value in given.items():
        if key not in _OPTIONAL_KEYS:
            raise ApiError(400, f"Unknown field '{which}.{key}'.")
        if key.startswith("text") and value is not None:
            if not isinstance(value, str) or len(value) > OPTIONAL_TEXT_MAX:
                raise ApiError(400, f"The value for the field '{which}.{key}' must be a text of at most "
                                    f"{OPTIONAL_TEXT_MAX} characters.")
        merged[key] = value
    return merged


def _set_status(store: TopdeskStore, incident: dict[str, Any], ref: Any, now: str) -> None:
    status = _linked(store, "processing_statuses", "name", ref, "processingStatus")
    flags = store.table("processing_statuses")[status["id"]]
    incident["processingStatus"] = status
    incident["completed"], incident["closed"], incident["onHold"] = flags["completed"], flags["closed"], flags["onHold"]
    incident["completedDate"] = now if flags["completed"] else None
    incident["closedDate"] = now if flags["closed"] else None


def _apply(store: TopdeskStore, request: Request, incident: dict[str, Any], payload: dict[str, Any],
           allowed: set[str], now: str) -> None:
    unknown = sorted(set(payload) - allowed)
    if unknown:
        raise ApiError(400, f"Unknown or read-only field(s): {', '.join(unknown)}.")
    if "briefDescription" in payload:
        brief = str(payload["briefDescription"] or "")
        if len(brief) > BRIEF_MAX:
            raise ApiError(400, f"The value for the field 'briefDescription' cannot be longer than {BRIEF_MAX} "
                                "characters.")
        incident["briefDescription"] = brief
    if "callerLookup" in payload or "caller" in payload:
        incident["caller"] = _caller(store, payload)
    if "status" in payload:
        if payload["status"] not in ("firstLine", "secondLine"):
            raise ApiError(400, "The field 'status' must be 'firstLine' or 'secondLine'.")
        incident["status"] = payload["status"]
    if "operatorGroup" in payload:
        incident["operatorGroup"] = _linked(store, "operatorgroups", "groupName", payload["operatorGroup"],
                                            "operatorGroup")
    if "category" in payload:
        name = (payload["category"] or {}).get("name") if isinstance(payload["category"], dict) else None
        if not name:
            raise ApiError(400, "The field 'category' needs an object with 'name'.")
        incident["category"] = {"id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"category:{name}")), "name": name}
    if "targetDate" in payload:
        value = payload["targetDate"]
        try:
            incident["targetDate"] = td_timestamp(parse_td_timestamp(str(value))) if value else None
        except ValueError as exc:
            raise ApiError(400, f"The value for the field 'targetDate' is not a valid date: {value!r}.") from exc
    for which in ("optionalFields1", "optionalFields2"):
        if which in payload:
            incident[which] = _optional_fields(incident[which], payload[which], which)
    if "processingStatus" in payload:
        _set_status(store, incident, payload["processingStatus"], now)
    elif payload.get("closed") is True:
        _set_status(store, incident, {"name": "Closed"}, now)
    elif payload.get("completed") is True:
        _set_status(store, incident, {"name": "Completed"}, now)
    elif payload.get("closed") is False and incident["closed"]:
        _set_status(store, incident, {"name": "In progress"}, now)
    trail = store.table("progress").setdefault(incident["id"], [])
    for kind, key in (("request", "request"), ("action", "action")):
        text = payload.get(key)
        if text:
            if not isinstance(text, str):
                raise ApiError(400, f"The field '{key}' must be a text.")
            trail.append({"id": str(uuid.uuid4()), "type": kind, "entryDate": now,
                          "invisibleForCaller": bool(payload.get("actionInvisibleForCaller", False))
                          if kind == "action" else False,
                          "memoText": text, "plainText": text, "operator": _operator(request), "person": None})
            if kind == "request":
                incident["request"] = text
    incident["modificationDate"] = now
    incident["modifier"] = _operator(request)


def _public(incident: dict[str, Any], fields: str | None = None) -> dict[str, Any]:
    base = f"/tas/api/incidents/id/{incident['id']}"
    out = {**incident, "requests": f"{base}/requests", "action": f"{base}/actions",
           "attachments": f"{base}/attachments", "progressTrail": f"{base}/progresstrail"}
    if fields:
        wanted = {f.strip() for f in fields.split(",") if f.strip()} | {"id"}
        out = {k: v for k, v in out.items() if k in wanted}
    return out


def incident_routes(store: TopdeskStore) -> list[Route]:
    def find(request: Request) -> dict[str, Any]:
        params = request.path_params
        if "id" in params:
            incident = store.table("incidents").get(params["id"])
        else:
            incident = next((i for i in store.table("incidents").values()
                             if i["number"].casefold() == params["number"].strip().casefold()), None)
        if incident is None:
            key = params.get("id") or params.get("number")
            raise ApiError(404, f"No incident found for {key!r}.")
        return incident  # type: ignore[no-any-return]

    async def create(request: Request) -> Response:
        payload = await json_object(request)
        now = datetime.now(UTC)
        stamp = td_timestamp(now)
        with store.lock:
            incident: dict[str, Any] = {
                "id": str(uuid.uuid4()), "number": "", "status": "firstLine", "request": "",
                "caller": None, "briefDescription": "", "category": None, "operatorGroup": None,
                "processingStatus": None, "targetDate": None, "onHold": False, "completed": False,
                "completedDate": None, "closed": False, "closedDate": None, "callDate": stamp,
                "creator": _operator(request), "creationDate": stamp, "modifier": _operator(request),
                "modificationDate": stamp, "majorCall": False, "externalNumber": "",
                "optionalFields1": dict(_OPTIONAL_KEYS), "optionalFields2": dict(_OPTIONAL_KEYS)}
            if "callerLookup" not in payload and "caller" not in payload:
                raise ApiError(400, "A caller is mandatory: give 'callerLookup' or 'caller' with a 'dynamicName'.")
            _apply(store, request, incident, payload, _CREATABLE, stamp)
            if incident["processingStatus"] is None:
                _set_status(store, incident, {"name": "Logged"}, stamp)
            incident["number"] = store.next_incident_number(now)
            store.table("incidents")[incident["id"]] = incident
            store.save()
        return JSONResponse(_public(incident), status_code=201)

    async def get(request: Request) -> Response:
        return JSONResponse(_public(find(request), request.query_params.get("fields")))

    async def update(request: Request) -> Response:
        payload = await json_object(request)
        with store.lock:
            incident = find(request)
            draft = {**incident, "optionalFields1": dict(incident["optionalFields1"]),
                     "optionalFields2": dict(incident["optionalFields2"])}
            _apply(store, request, draft, payload, _UPDATABLE, td_timestamp())
            incident.update(draft)
            store.save()
        return JSONResponse(_public(incident))

    async def search(request: Request) -> Response:
        items = list(store.table("incidents").values())
        try:
            items = fiql.select(request.query_params.get("query"), items, SEARCHABLE)
        except fiql.FiqlError as exc:
            raise ApiError(400, str(exc)) from exc
        for spec in reversed([s for s in request.query_params.get("sort", "").split(",") if s]):
            key, _, direction = spec.partition(":")
            if key not in SEARCHABLE:
                raise ApiError(400, f"Cannot sort on {key!r}.")
            def sort_key(incident: dict[str, Any], key: str = key) -> str:
                return str(fiql.lookup(incident, key) or "")
            items.sort(key=sort_key, reverse=direction == "desc")
        fields = request.query_params.get("fields")
        return paged(request, [_public(i, fields) for i in items], default_size=10, max_size=10000)

    async def trail(request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in ("progresstrail", "actions", "requests"):
            raise ApiError(404, f"Unknown incident resource {kind!r}.")
        incident = find(request)
        entries = list(reversed(store.table("progress").get(incident["id"], [])))  # newest first
        if kind == "actions":
            entries = [e for e in entries if e["type"] == "action"]
        elif kind == "requests":
            entries = [e for e in entries if e["type"] == "request"]
        return paged(request, entries, default_size=10, max_size=100)

    async def statuses(request: Request) -> Response:
        return JSONResponse([{"id": s["id"], "name": s["name"]} for s in store.table("processing_statuses").values()])

    prefix = "/tas/api/incidents"
    return [
        Route(prefix, create, methods=["POST"]),
        Route(prefix, search, methods=["GET"]),
        Route(f"{prefix}/processing_status", statuses, methods=["GET"]),
        Route(f"{prefix}/id/{{id}}", get, methods=["GET"]),
        Route(f"{prefix}/number/{{number}}", get, methods=["GET"]),
        Route(f"{prefix}/id/{{id}}", update, methods=["PUT", "PATCH"]),
        Route(f"{prefix}/number/{{number}}", update, methods=["PUT", "PATCH"]),
        Route(f"{prefix}/id/{{id}}/{{kind:str}}", trail, methods=["GET"]),
    ]
