"""The ASGI application: N5WS API under ``--base-path``, sandbox control under ``/_sandbox/``.

Control routes (tests and the demo; each needs the control token, see :mod:`sandbox.common`)::

    GET    /_sandbox/objects[?kind=saksmappe]   every stored object (raw JSON + kind/parent)
    DELETE /_sandbox/objects                    wipe everything and seed again
    POST/GET/DELETE /_sandbox/faults            fault injection (sandbox.common)
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sandbox.common import FaultInjector
from sandbox.noark5.api import Noark5Api, Settings
from sandbox.noark5.resources import now_oslo
from sandbox.noark5.responses import MEDIA_TYPE, ApiError, feil_body, feil_response
from sandbox.noark5.store import Store

__all__ = ["create_app", "seed", "SEED_ARKIV", "SEED_ARKIVDELER"]

log = logging.getLogger("sandbox.noark5")

SEED_ARKIV = "OsloMet arkiv"
SEED_ARKIVDELER = ("Sakarkiv", "Personalarkiv")
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_CORS = {"Allow": ", ".join(_METHODS), "Access-Control-Allow-Origin": "*",
         "Access-Control-Allow-Methods": ", ".join(_METHODS),
         "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Disposition, If-Match, ETag",
         "Access-Control-Expose-Headers": "ETag, Location"}


def seed(store: Store) -> None:
    """On first start: one arkiv with the arkivdeler the hub files under."""
    if store.children(None, ["arkiv"]):
        return
    stamp = {"opprettetDato": now_oslo().isoformat(), "opprettetAv": "system"}
    arkiv = store.insert("arkiv", None, {
        "tittel": SEED_ARKIV, "beskrivelse": "Sandbox-arkiv for integrasjonshuben",
        "arkivstatus": {"kode": "O", "kodenavn": "Opprettet"},
        "dokumentmedium": {"kode": "E", "kodenavn": "Elektronisk arkiv"}, **stamp})
    for title in SEED_ARKIVDELER:
        store.insert("arkivdel", arkiv.system_id, {
            "tittel": title, "arkivdelstatus": {"kode": "A", "kodenavn": "Aktiv periode"},
            "dokumentmedium": {"kode": "E", "kodenavn": "Elektronisk arkiv"},
            "arkivperiodeStartDato": stamp["opprettetDato"], **stamp})


def create_app(data_dir: Path, settings: Settings | None = None,
               control_token: str | None = None) -> FaultInjector:
    settings = settings or Settings()
    data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(data_dir / "noark5.sqlite")
    seed(store)
    api = Noark5Api(store, settings)
    base = settings.base_path.rstrip("/")

    async def n5ws(request: Request) -> Response:
        if request.method == "OPTIONS":  # CORS preflight: no credentials are sent with it
            return Response(status_code=200, headers=_CORS)
        path = request.url.path[len(base):]
        segments = [s for s in path.split("/") if s]
        if segments[:1] == ["api"]:
            segments = segments[1:]
        elif segments:  # {base}/ itself answers like {base}/api/ (nikita's root)
            return feil_response(404, f"no such resource: {request.url.path}", request)
        try:
            return await api.handle(request, segments)
        except ApiError as err:
            return feil_response(err.status, err.message, request, err.headers)
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            return feil_response(500, "internal error in the sandbox; see its log", request)

    async def objects(request: Request) -> Response:
        if request.method == "DELETE":
            store.wipe()
            seed(store)
            return Response(status_code=204)
        kind = request.query_params.get("kind")
        kinds = [kind] if kind else ["arkivskaper", "arkiv", "arkivdel", "mappe", "saksmappe", "registrering",
                                     "journalpost", "korrespondansepartperson", "dokumentbeskrivelse",
                                     "dokumentobjekt"]
        rows: list[dict[str, Any]] = [
            {"kind": o.kind, "systemID": o.system_id, "parent": o.parent_id, "version": o.version,
             "data": o.data} for o in store.children(None, kinds)]
        return JSONResponse({"count": len(rows), "results": rows})

    async def not_found(request: Request, exc: Exception) -> Response:
        return feil_response(404, f"no such resource: {request.url.path}", request)

    app = Starlette(routes=[
        Route(base, n5ws, methods=_METHODS),
        Route(base + "/{rest:path}", n5ws, methods=_METHODS),
        Route("/_sandbox/objects", objects, methods=["GET", "DELETE"]),
    ], exception_handlers={404: not_found})
    app.state.store = store
    return FaultInjector(app, error_body=feil_body, media_type=MEDIA_TYPE, control_token=control_token)
