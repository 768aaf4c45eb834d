"""The DFØ sandbox's ASGI app (routes are described in :mod:`sandbox.dfo`)."""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.privacy import mask
from sandbox.common import FaultInjector
from sandbox.dfo.announce import announce
from sandbox.dfo.quirks import QUIRKS, apply_quirks
from sandbox.dfo.store import OSLO, DfoStore

__all__ = ["API_PREFIX", "API_KEY_HEADER", "create_app"]

log = logging.getLogger("sandbox.dfo")

API_PREFIX = "/api"
API_KEY_HEADER = "X-Gravitee-Api-Key"


def _fault(text: str, status: int) -> JSONResponse:
    """DFØ-SAP's error body: ``{"standard": {"faultText": ...}}``."""
    return JSONResponse({"standard": {"faultText": text}}, status_code=status)


class ApiKeyGate:
    """The API gateway in front of DFØ: ``/api/...`` needs the right ``X-Gravitee-Api-Key``."""

    def __init__(self, app: ASGIApp, api_key: str) -> None:
        self.app = app
        self.api_key = api_key.encode("utf-8")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX + "/"):
            given = Request(scope).headers.get(API_KEY_HEADER, "").encode("utf-8")
            if not given or not hmac.compare_digest(given, self.api_key):
                response = JSONResponse({"message": "Unauthorized", "http_status_code": 401},
                                        status_code=401)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _is_date(value: object) -> bool:
    try:
        date.fromisoformat(str(value))
    except ValueError:
        return False
    return True


def _secrets(hmac_secret: str) -> list[str]:
    """``--hmac-secret`` is one secret, or several separated by commas (each signs the event)."""
    return [part.strip() for part in hmac_secret.split(",") if part.strip()]


def _routes(store: DfoStore, intake_url: str | None, hmac_secret: str | None) -> list[Route]:
    quirks: set[str] = set()  # shape variants switched on by /_sandbox/quirks (sandbox.dfo.quirks)

    def answer(wrapper: str, items: list[dict[str, Any]], *, single: bool = True) -> JSONResponse:
        return JSONResponse(apply_quirks({wrapper: items}, wrapper, frozenset(quirks), single=single))

    async def get_ansatt(request: Request) -> Response:
        employee = store.ansatt(request.path_params["id"])
        if employee is None:
            return _fault("IKKE ANSATT", 404)
        return answer("ansatt", [employee])

    async def list_ansatte(request: Request) -> Response:
        return answer("ansatt", store.all_ansatte(), single=False)

    async def get_stilling(request: Request) -> Response:
        stilling = store.stilling(request.path_params["id"])
        if stilling is None:
            return _fault("UBESATT STILLING", 404)
        return answer("stilling", [stilling])

    async def get_orgenhet(request: Request) -> Response:
        orgenhet = store.orgenhet(request.path_params["id"])
        if orgenhet is None:
            return _fault("UKJENT ORGANISASJONSENHET", 404)
        return answer("organisasjon", [orgenhet])

    async def get_quirks(request: Request) -> Response:
        return JSONResponse({"quirks": sorted(quirks), "known": list(QUIRKS)})

    async def set_quirks(request: Request) -> Response:
        try:
            payload = await request.json()
            wanted = {str(q) for q in payload["quirks"]}
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'expected {"quirks": ["unwrap", ...]}', "known": list(QUIRKS)},
                                status_code=400)
        if unknown := sorted(wanted - set(QUIRKS)):
            return JSONResponse({"error": f"unknown quirks: {unknown}", "known": list(QUIRKS)}, status_code=400)
        quirks.clear()
        quirks.update(wanted)
        log.info("serving with quirks %s", sorted(quirks))
        return JSONResponse({"quirks": sorted(quirks)}, status_code=201)

    async def clear_quirks(request: Request) -> Response:
        quirks.clear()
        return Response(status_code=204)

    async def put_ansatt(request: Request) -> Response:
        try:
            payload = await request.json()
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if isinstance(payload, dict) and isinstance(payload.get("ansatt"), list) and payload["ansatt"]:
            payload = payload["ansatt"][0]
        if not isinstance(payload, dict):
            return JSONResponse({"error": "expected one employee object"}, status_code=400)
        employee = store.put_ansatt(payload)
        log.info("employee %s added/replaced", employee["id"])
        return JSONResponse({"ansatt": [employee]}, status_code=201)

    async def send_event(employee_id: str, gyldig_etter: str, uri: str) -> Response:
        """Sign and POST one change event to the intake; answer with the intake's status and body."""
        if not intake_url or not hmac_secret:
            return JSONResponse({"error": "start the sandbox with --intake-url and --hmac-secret"},
                                status_code=409)
        try:
            # Standard Webhooks signature; "S1,S2" signs with both (a sender rotating its key).
            answer = await asyncio.to_thread(announce, intake_url, _secrets(hmac_secret), employee_id,
                                             gyldig_etter, uri)
        except httpx.HTTPError as exc:
            return JSONResponse({"error": f"intake unreachable: {exc.__class__.__name__}"},
                                status_code=502)
        log.info("announced %s %s gyldigEtter=%s → %s", uri, mask(employee_id), gyldig_etter,
                 answer.status_code)
        return Response(answer.content, status_code=answer.status_code,
                        media_type=answer.headers.get("content-type", "application/json"))

    async def post_announce(request: Request) -> Response:
        try:
            payload: dict[str, Any] = await request.json()
            employee_id = str(payload["id"])
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'expected {"id": "...", "gyldigEtter"?: "YYYY-MM-DD"}'},
                                status_code=400)
        gyldig_etter = payload.get("gyldigEtter")
        if not gyldig_etter:
            employee = store.ansatt(employee_id)
            gyldig_etter = (employee or {}).get("startdato") or datetime.now(OSLO).date().isoformat()
        return await send_event(employee_id, gyldig_etter, str(payload.get("uri") or "dfo:ansatte"))

    async def change(request: Request, apply: Callable[[dict[str, Any]], dict[str, Any] | str],
                     uri: str, valid_after: Callable[[dict[str, Any]], str | None] = lambda payload: None) -> Response:
        """Change one employee as HR does, then announce it (``"announce": false`` to stay silent,
        as when an event is lost). ``gyldigEtter``: the payload's, else ``valid_after``'s, else today."""
        try:
            payload = await request.json()
        except ValueError:
            return JSONResponse({"error": "body is not JSON"}, status_code=400)
        if not isinstance(payload, dict):
            return JSONResponse({"error": "expected a JSON object"}, status_code=400)
        employee_id = request.path_params["id"]
        if store.ansatt(employee_id) is None:
            return _fault("IKKE ANSATT", 404)
        changed = apply(payload)
        if isinstance(changed, str):
            return JSONResponse({"error": changed}, status_code=400)
        if payload.get("announce", True) is False:
            return JSONResponse({"ansatt": [changed], "announced": False}, status_code=201)
        today = datetime.now(OSLO).date().isoformat()
        return await send_event(str(changed["id"]), str(payload.get("gyldigEtter") or valid_after(payload) or today),
                                uri)

    async def set_end_date(request: Request) -> Response:
        def apply(payload: dict[str, Any]) -> dict[str, Any] | str:
            value = payload.get("sluttdato")
            if value is not None and not _is_date(value):
                return 'expected {"sluttdato": "YYYY-MM-DD" | null}'
            return store.set_end_date(request.path_params["id"], value or "")

        # An end date is announced valid from that date; a withdrawal from today. (The feed's event
        # holds no more than id, uri and gyldigEtter: a date set and withdrawn the same day must
        # differ in gyldigEtter to be two events.)
        return await change(request, apply, "dfo:ansatte", lambda payload: payload.get("sluttdato"))

    async def move(request: Request) -> Response:
        def apply(payload: dict[str, Any]) -> dict[str, Any] | str:
            unit = str(payload.get("organisasjonId") or "")
            if store.orgenhet(unit) is None:
                return f"no unit {unit!r} (add it with POST /_sandbox/orgenheter)"
            return store.move(request.path_params["id"], unit)

        return await change(request, apply, "dfo:stillinger")

    async def put_orgenhet(request: Request) -> Response:
        try:
            payload = await request.json()
            unit = store.put_orgenhet(payload)
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'expected {"id", "organisasjonsnavn", "lederAnsattnr"?, "lokasjonId"?, '
                                          '"overordnOrgenhetId"?}'}, status_code=400)
        return JSONResponse({"organisasjon": [unit]}, status_code=201)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "ansatte": len(store.data["ansatte"])})

    return [
        Route(f"{API_PREFIX}/ansatte/v2", list_ansatte, methods=["GET"]),
        Route(f"{API_PREFIX}/ansatte/v2/", list_ansatte, methods=["GET"]),
        Route(f"{API_PREFIX}/ansatte/v2/{{id}}", get_ansatt, methods=["GET"]),
        Route(f"{API_PREFIX}/stillinger/v2/{{id}}", get_stilling, methods=["GET"]),
        Route(f"{API_PREFIX}/orgenhet/v2/{{id}}", get_orgenhet, methods=["GET"]),
        Route("/_sandbox/ansatte", put_ansatt, methods=["POST"]),
        Route("/_sandbox/announce", post_announce, methods=["POST"]),
        Route("/_sandbox/ansatte/{id}/sluttdato", set_end_date, methods=["POST"]),
        Route("/_sandbox/ansatte/{id}/flytt", move, methods=["POST"]),
        Route("/_sandbox/orgenheter", put_orgenhet, methods=["POST"]),
        Route("/_sandbox/quirks", get_quirks, methods=["GET"]),
        Route("/_sandbox/quirks", set_quirks, methods=["POST"]),
        Route("/_sandbox/quirks", clear_quirks, methods=["DELETE"]),
        Route("/_sandbox/health", health, methods=["GET"]),
    ]


def create_app(data_dir: Path, api_key: str, intake_url: str | None = None,
               hmac_secret: str | None = None, control_token: str | None = None) -> ASGIApp:
    """Starlette app behind the API-key gate, wrapped in fault injection (outermost)."""
    store = DfoStore(data_dir)
    inner = Starlette(routes=_routes(store, intake_url, hmac_secret))

    async def not_found(request: Request, exc: Exception) -> Response:
        return JSONResponse({"message": "No context-path matches the request URI.",
                             "http_status_code": 404}, status_code=404)

    inner.add_exception_handler(404, not_found)
    return FaultInjector(ApiKeyGate(inner, api_key), control_token=control_token,
                         error_body=lambda status, msg: {"standard": {"faultText": msg}})
