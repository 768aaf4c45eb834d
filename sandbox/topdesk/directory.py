"""Persons, branches, operator groups and the API version (below ``/tas/api``)::

    GET  /persons?query=email==x&start=&page_size=     → 200 | 206 | 204
    GET  /persons/id/{id}
    POST /persons   {surName, firstName?, email?, networkLoginName?, branch: {id|name}} → 201
    GET  /branches?query=name==OsloMet
    GET  /operatorgroups?query=groupName==Equipment
    GET  /version
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.topdesk import fiql
from sandbox.topdesk.responses import ApiError, json_object, paged
from sandbox.topdesk.store import TopdeskStore, td_timestamp

__all__ = ["directory_routes", "API_VERSION"]

API_VERSION = "3.7.1"
_PERSON_FIELDS = {"surName", "firstName", "email", "networkLoginName", "employeeNumber", "jobTitle", "branch",
                  "tasLoginName"}
_PERSON_SEARCH = ("id", "email", "networkLoginName", "surName", "firstName", "dynamicName", "employeeNumber",
                  "status", "branch.name", "branch.id", "tasLoginName")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _search(request: Request, records: list[dict[str, Any]], searchable: tuple[str, ...], *,
            max_size: int) -> Response:
    try:
        items = fiql.select(request.query_params.get("query"), records, searchable)
    except fiql.FiqlError as exc:
        raise ApiError(400, str(exc)) from exc
    return paged(request, items, default_size=10, max_size=max_size)


def directory_routes(store: TopdeskStore) -> list[Route]:
    async def persons(request: Request) -> Response:
        return _search(request, list(store.table("persons").values()), _PERSON_SEARCH, max_size=100)

    async def person(request: Request) -> Response:
        found = store.table("persons").get(request.path_params["id"])
        if found is None:
            raise ApiError(404, f"No person found for id {request.path_params['id']!r}.")
        return JSONResponse(found)

    async def create_person(request: Request) -> Response:
        payload = await json_object(request)
        unknown = sorted(set(payload) - _PERSON_FIELDS)
        if unknown:
            raise ApiError(400, f"Unknown or read-only field(s): {', '.join(unknown)}.")
        surname = str(payload.get("surName") or "").strip()
        if not surname:
            raise ApiError(400, "The field 'surName' is mandatory.")
        email = str(payload.get("email") or "").strip()
        if email and not _EMAIL.match(email):
            raise ApiError(400, f"The value for the field 'email' is not an e-mail address: {email!r}.")
        ref = payload.get("branch")
        branch = None
        if isinstance(ref, dict):
            branch = (store.table("branches").get(str(ref.get("id"))) if ref.get("id")
                      else store.by_name("branches", "name", str(ref.get("name") or "")))
        if branch is None:
            raise ApiError(400, "The field 'branch' is mandatory and must name an existing branch.")
        first = str(payload.get("firstName") or "").strip()
        with store.lock:
            record: dict[str, Any] = {
                "id": str(uuid.uuid4()), "status": "person", "firstName": first, "surName": surname,
                "dynamicName": f"{surname}, {first}" if first else surname, "email": email,
                "networkLoginName": str(payload.get("networkLoginName") or ""),
                "tasLoginName": str(payload.get("tasLoginName") or ""),
                "employeeNumber": str(payload.get("employeeNumber") or ""),
                "jobTitle": str(payload.get("jobTitle") or ""),
                "branch": {"id": branch["id"], "name": branch["name"]}, "creationDate": td_timestamp()}
            store.table("persons")[record["id"]] = record
            store.save()
        return JSONResponse(record, status_code=201)

    async def branches(request: Request) -> Response:
        return _search(request, list(store.table("branches").values()), ("id", "name", "clientReferenceNumber"),
                       max_size=100)

    async def operatorgroups(request: Request) -> Response:
        return _search(request, list(store.table("operatorgroups").values()), ("id", "groupName"), max_size=100)

    async def version(request: Request) -> Response:
        return JSONResponse({"version": API_VERSION})

    return [
        Route("/tas/api/persons", persons, methods=["GET"]),
        Route("/tas/api/persons", create_person, methods=["POST"]),
        Route("/tas/api/persons/id/{id}", person, methods=["GET"]),
        Route("/tas/api/branches", branches, methods=["GET"]),
        Route("/tas/api/operatorgroups", operatorgroups, methods=["GET"]),
        Route("/tas/api/version", version, methods=["GET"]),
    ]
