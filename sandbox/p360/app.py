"""The Public 360 sandbox's ASGI app: SIF JSON RPC, authentication, control routes, faults.

``POST /Biz/v2/api/call/SI.Data.RPC/SI.Data.RPC/{Service}/{Method}`` with the body
``{"parameter": {...}}``. Authentication, both forms seen in the field:

1. query ``?authkey=<key>``;
2. header ``Authorization: authkey <key>`` plus the client id, as header ``clientid`` or
   query ``clientId``.

A missing or wrong key (or client id) is **401** (``{"Message": "Authorization has been
denied for this request."}``, ASP.NET's wording; no source shows 360's body). Everything
else is HTTP 200: ``Successful: false`` with ``ErrorMessage``/``ErrorDetails`` for
business errors, including an ``ADContextUser`` the service user may not impersonate.
An unknown service or method is 404. ``{Service}/Ping`` answers 200 with no body.
"""

from __future__ import annotations

import hmac
import json
import logging
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from sandbox.common import FaultInjector
from sandbox.p360.cases import CaseService
from sandbox.p360.contacts import ContactService
from sandbox.p360.documents import DocumentService, FileService
from sandbox.p360.envelope import SifError, failed, ok, text
from sandbox.p360.store import CODE_TABLES, P360Store

__all__ = ["create_app", "RPC_PREFIX", "DEFAULT_AUTH_KEY", "DEFAULT_CLIENT_ID", "SERVICE_USER", "USERS"]

log = logging.getLogger("sandbox.p360")

RPC_PREFIX = "/Biz/v2/api/call/SI.Data.RPC/SI.Data.RPC"
DEFAULT_AUTH_KEY = "sandbox-p360-authkey"
DEFAULT_CLIENT_ID = "oslomet-hub"
SERVICE_USER = "svc-hub"
USERS = ("svc-hub", "arkivar", "saksbehandler")  # ADContextUser values the service user may impersonate
SIF_VERSION = "24.1.0 (sandbox)"
DENIED = {"Message": "Authorization has been denied for this request."}


class SupportService:
    def GetSIFVersion(self, p: dict[str, Any], user: str) -> dict[str, Any]:  # noqa: N802
        return ok(SIFVersion=SIF_VERSION)

    def GetCodeTableRows(self, p: dict[str, Any], user: str) -> dict[str, Any]:  # noqa: N802
        name = text(p, "CodeTableName")
        table = next((t for n, t in CODE_TABLES.items() if name and n.casefold() == name.casefold()), None)
        if table is None:
            raise SifError(f"Code table not found. CodeTableName=$))'{name or ''}'")
        return ok(CodeTableRows=table.rows_json())


def _authorized(request: Request, auth_key: str, client_id: str) -> bool:
    def same(given: str | None, expected: str) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), expected.encode())

    query = {k.lower(): v for k, v in request.query_params.items()}
    if "authkey" in query:
        return same(query["authkey"], auth_key)
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "authkey":
        given_client = request.headers.get("clientid") or query.get("clientid")
        return same(key.strip(), auth_key) and same(given_client, client_id)
    return False


def create_app(data_dir: Path, auth_key: str = DEFAULT_AUTH_KEY, client_id: str = DEFAULT_CLIENT_ID,
               control_token: str | None = None, web_root: str = "https://oslomet.public360online.test") -> ASGIApp:
    store = P360Store(data_dir)
    services: dict[str, Any] = {
        "CaseService": CaseService(store, web_root), "DocumentService": DocumentService(store, web_root),
        "ContactService": ContactService(store), "FileService": FileService(store, web_root),
        "SupportService": SupportService(),
    }

    async def call(request: Request) -> Response:
        if not _authorized(request, auth_key, client_id):
            return JSONResponse(DENIED, status_code=401)
        service_name, method_name = request.path_params["service"], request.path_params["method"]
        service = services.get(service_name)
        if service is None or not (method_name == "Ping" or hasattr(service, method_name)):
            return JSONResponse({"Message": f"No HTTP resource was found that matches the request URI "
                                            f"'{request.url.path}'."}, status_code=404)
        if method_name == "Ping":
            return Response(status_code=200)
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return JSONResponse({"Message": "The request is invalid."}, status_code=400)
        parameter = body.get("parameter") if isinstance(body, dict) else None
        if not isinstance(parameter, dict):
            parameter = {}
        user = text(parameter, "ADContextUser") or SERVICE_USER
        try:
            if user not in USERS:
                raise SifError(f"Access denied: the user {SERVICE_USER} is not authorized to impersonate '{user}'.")
            result = getattr(service, method_name)(parameter, user)
        except SifError as exc:
            log.info("%s/%s: %s", service_name, method_name, exc.message.splitlines()[0])
            result = failed(exc)
        return JSONResponse(result)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", **store.counts()})

    async def state(request: Request) -> Response:
        with store.lock:
            return JSONResponse(store.data)

    async def reset(request: Request) -> Response:
        store.reset()
        return JSONResponse({"status": "reset", **store.counts()})

    async def record(request: Request) -> Response:
        """Change or remove a stored record directly, as a person (or a migration) in 360 would:
        how tests plant drift the API would refuse (a second case under one ExternalId)."""
        table = store.data.get(request.path_params["table"])
        if request.path_params["table"] == "counters" or not isinstance(table, dict):
            return JSONResponse({"error": "no such table"}, status_code=404)
        with store.lock:
            found = table.get(str(request.path_params["recno"]))
            if found is None:
                return JSONResponse({"error": "no such record"}, status_code=404)
            if request.method == "DELETE":
                del table[str(request.path_params["recno"])]
                store.save()
                return Response(status_code=204)
            found.update(await request.json())
            store.save()
            return JSONResponse(found)

    routes = [
        Route(RPC_PREFIX + "/{service}/{method}", call, methods=["POST"]),
        Route("/_sandbox/health", health, methods=["GET"]),
        Route("/_sandbox/state", state, methods=["GET"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/{table}/{recno}", record, methods=["PATCH", "DELETE"]),
    ]
    return FaultInjector(Starlette(routes=routes), control_token=control_token,
                         error_body=lambda status, msg: {"Message": msg})
