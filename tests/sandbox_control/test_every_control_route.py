"""Every ``/_sandbox/*`` route of every sandbox (found by walking its routes, so a new one is
covered too) answers 401 without the control token or with a wrong one, and works with it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp

from sandbox.common import TOKEN_HEADER, ControlGate, FaultInjector
from sandbox.dfo.app import create_app as dfo_app
from sandbox.faultproxy import create_app as proxy_app
from sandbox.nettskjema.app import create_app as nettskjema_app
from sandbox.noark5.app import create_app as noark5_app
from sandbox.topdesk.app import create_app as topdesk_app

TOKEN = "the-right-control-token"
FAULTS = {"/_sandbox/faults": {"GET", "POST", "DELETE"}, "/_sandbox/faults/stats": {"GET", "DELETE"}}

SANDBOXES: dict[str, Callable[[Path], ASGIApp]] = {
    "dfo": lambda d: dfo_app(d, "api-key", "http://127.0.0.1:9/events", "secret", control_token=TOKEN),
    "noark5": lambda d: noark5_app(d, control_token=TOKEN),
    "nettskjema": lambda d: nettskjema_app(d, "hub-client", "secret", 3600, control_token=TOKEN),
    "topdesk": lambda d: topdesk_app(d, control_token=TOKEN),
    "faultproxy": lambda d: proxy_app("http://127.0.0.1:9", control_token=TOKEN),
}


def control_routes(app: Any) -> dict[str, set[str]]:
    """``/_sandbox`` paths (path parameters filled in) and their methods, below the injector."""
    found = dict(FAULTS)
    while app is not None:
        for route in getattr(app, "routes", []):
            if route.path.startswith("/_sandbox"):
                found[re.sub(r"\{[^}]+\}", "laptop", route.path)] = set(route.methods or {"GET"}) - {"HEAD"}
        app = getattr(app, "app", None)
    return found


@pytest.fixture(params=list(SANDBOXES))
def sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, FaultInjector]]:
    app = SANDBOXES[request.param](tmp_path)
    assert isinstance(app, FaultInjector)
    yield request.param, app


async def test_every_control_route_needs_the_token(sandbox: tuple[str, FaultInjector]) -> None:
    name, app = sandbox
    routes = control_routes(app)
    own = {path for path in routes if path not in FAULTS}
    assert name == "faultproxy" or own, f"{name}: no control routes of its own found"
    refused = [{}, {TOKEN_HEADER: "wrong"}, {TOKEN_HEADER: TOKEN[:-1]}, {"Authorization": "Bearer wrong"},
               {"Authorization": f"Basic {TOKEN}"}, {TOKEN_HEADER: ""}]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        for path, methods in routes.items():
            for method in methods:
                for headers in refused:
                    response = await client.request(method, path, headers=headers, json={})
                    assert response.status_code == 401, (name, method, path, headers)
                    assert "X-Sandbox-Token" in response.json()["message"]
        for path in ("/_sandbox", "/%5Fsandbox/faults"):  # the latter is decoded before routing
            assert (await client.get(path)).status_code == 401, path
        assert app.faults == []  # not one fault was armed on the way


async def test_the_token_opens_them(sandbox: tuple[str, FaultInjector]) -> None:
    name, app = sandbox
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        for headers in ({TOKEN_HEADER: TOKEN}, {"Authorization": f"Bearer {TOKEN}"}):
            armed = await client.post("/_sandbox/faults", headers=headers, json={"path": "/nowhere"})
            assert armed.status_code == 201, (name, armed.text)
        listed = await client.get("/_sandbox/faults", headers={TOKEN_HEADER: TOKEN})
    assert [f["path"] for f in listed.json()] == ["/nowhere", "/nowhere"]


async def test_an_injector_without_any_token_stays_shut(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUB_SANDBOX_TOKEN", raising=False)
    app = FaultInjector(proxy_app("http://127.0.0.1:9"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        for headers in ({}, {TOKEN_HEADER: ""}, {TOKEN_HEADER: "None"}, {"Authorization": "Bearer "}):
            assert (await client.post("/_sandbox/faults", headers=headers, json={})).status_code == 401


def test_the_gate_guards_every_spelling_of_the_prefix() -> None:
    assert all(ControlGate.guards(p) for p in ("/_sandbox", "/_sandbox/x", "//_sandbox/faults", "_sandbox/x"))
    assert not any(ControlGate.guards(p) for p in ("/", "/api/_sandbox", "/noark5v5/_sandbox/faults"))
