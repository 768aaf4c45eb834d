"""The TOPdesk sandbox's ASGI app: Basic auth with an application password, the API
routes (:mod:`~sandbox.topdesk.incidents`, :mod:`~sandbox.topdesk.directory`,
:mod:`~sandbox.topdesk.assets`), control routes under ``/_sandbox/`` and fault injection.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.common import FaultInjector
from sandbox.topdesk.assets import asset_routes
from sandbox.topdesk.directory import directory_routes
from sandbox.topdesk.incidents import incident_routes
from sandbox.topdesk.responses import ApiError, error_response
from sandbox.topdesk.store import TopdeskStore

__all__ = ["create_app", "API_PREFIX", "DEFAULT_USERNAME", "DEFAULT_APP_PASSWORD"]

log = logging.getLogger("sandbox.topdesk")

API_PREFIX = "/tas/api"
DEFAULT_USERNAME = "hub"
DEFAULT_APP_PASSWORD = "sandbox-topdesk-app-password"


class BasicAuthGate:
    """``/tas/api/...`` needs HTTP Basic with the user name and its application password."""

    def __init__(self, app: ASGIApp, username: str, app_password: str) -> None:
        self.app = app
        self.expected = (username.encode("utf-8"), app_password.encode("utf-8"))

    def _user(self, header: str) -> str | None:
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        ok_user = hmac.compare_digest(user.encode("utf-8"), self.expected[0])
        ok_password = hmac.compare_digest(password.encode("utf-8"), self.expected[1])
        return user if sep and ok_user and ok_password else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (scope["path"] + "/").startswith(API_PREFIX + "/"):
            request = Request(scope)
            user = self._user(request.headers.get("Authorization", ""))
            if user is None:
                response = error_response(request, 401, "Application password or login name is not valid.",
                                          headers={"WWW-Authenticate": 'Basic realm="TOPdesk"'})
                await response(scope, receive, send)
                return
            scope["topdesk_user"] = user
        await self.app(scope, receive, send)


def _control_routes(store: TopdeskStore) -> list[Route]:
    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", **store.counts()})

    async def state(request: Request) -> Response:
        with store.lock:
            return JSONResponse(store.data)

    async def reset(request: Request) -> Response:
        store.reset()
        log.info("reset to the seed data")
        return JSONResponse({"status": "reset", **store.counts()})

    return [
        Route("/_sandbox/health", health, methods=["GET"]),
        Route("/_sandbox/state", state, methods=["GET"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
    ]


def create_app(data_dir: Path, username: str = DEFAULT_USERNAME,
               app_password: str = DEFAULT_APP_PASSWORD, control_token: str | None = None) -> ASGIApp:
    """Starlette app behind the Basic-auth gate, wrapped in fault injection (outermost)."""
    store = TopdeskStore(data_dir)
    routes = [*incident_routes(store), *directory_routes(store), *asset_routes(store), *_control_routes(store)]
    inner = Starlette(routes=routes)

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return error_response(request, exc.status, exc.message)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        message = {404: "Resource not found.", 405: "Method not allowed."}.get(exc.status_code, str(exc.detail))
        return error_response(request, exc.status_code, message)

    inner.add_exception_handler(ApiError, api_error)
    inner.add_exception_handler(HTTPException, http_error)
    return FaultInjector(BasicAuthGate(inner, username, app_password), control_token=control_token,
                         error_body=lambda status, msg: [{"message": msg}])
