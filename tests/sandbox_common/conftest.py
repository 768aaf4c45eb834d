"""A tiny app that commits writes, behind :class:`sandbox.common.FaultInjector` or behind the
fault proxy, served by uvicorn on 127.0.0.1 in a thread (``reset`` needs a real socket)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from sandbox.common import FaultInjector
from sandbox.faultproxy import create_app as create_proxy
from sandbox.procs import free_port

CONTROL_TOKEN = "test-control-token"  # the /_sandbox routes need it (sandbox.common.ControlGate)


@dataclass
class Store:
    """What the app committed: one entry per POST it handled."""

    written: list[dict] = field(default_factory=list)


def store_app(store: Store) -> Starlette:
    async def items(request: Request) -> JSONResponse:
        if request.method == "POST":
            body = await request.json()
            store.written.append(body)
            return JSONResponse({"id": len(store.written), **body}, status_code=201)
        return JSONResponse({"items": store.written, "note": "x" * 200})

    async def host(request: Request) -> JSONResponse:
        return JSONResponse({"host": request.headers.get("host")})

    return Starlette(routes=[Route("/api/items", items, methods=["GET", "POST"]), Route("/api/host", host)])


class Served:
    def __init__(self, app: ASGIApp) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False, lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def store() -> Store:
    return Store()


@pytest.fixture
def injector(store: Store) -> FaultInjector:
    return FaultInjector(store_app(store), control_token=CONTROL_TOKEN)


@pytest.fixture
def served(injector: FaultInjector) -> Iterator[Served]:
    with Served(injector) as served:
        yield served


@pytest.fixture
def proxied(store: Store) -> Iterator[Served]:
    """The plain app (no injection of its own) behind the fault proxy."""
    with Served(store_app(store)) as upstream, Served(create_proxy(upstream.url, CONTROL_TOKEN)) as proxy:
        yield proxy
