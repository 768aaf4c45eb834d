"""What every sandbox server shares: fault injection, a health route, and the runner.

Fault injection lets tests make a sandbox misbehave the way real systems do::

    POST /_sandbox/faults  {"path": "/api/v3/form", "status": 429, "count": 2,
                            "retry_after": 1, "delay": 0}
    DELETE /_sandbox/faults

The next ``count`` requests whose path starts with ``path`` get ``status`` (with a
``Retry-After`` header when given) or are delayed by ``delay`` seconds first.
``GET /_sandbox/faults`` lists what is armed. A sandbox listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["Fault", "FaultInjector", "serve_main"]


@dataclass
class Fault:
    path: str
    status: int = 503
    count: int = 1
    retry_after: float | None = None
    delay: float = 0.0
    body: str | None = None
    method: str | None = None


class FaultInjector:
    """ASGI middleware holding a list of armed faults, plus the ``/_sandbox/faults`` API."""

    def __init__(self, app: ASGIApp, *, error_body: Callable[[int, str], Any] | None = None,
                 media_type: str = "application/json") -> None:
        self.app = app
        self.faults: list[Fault] = []
        self.error_body = error_body or (lambda status, msg: {"error": msg, "status": status})
        self.media_type = media_type

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/_sandbox/faults":
            response = await self._control(Request(scope, receive))
            await response(scope, receive, send)
            return
        fault = self._take(path, scope["method"])
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status and fault.status >= 400:
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = str(int(fault.retry_after))
                content = fault.body if fault.body is not None else json.dumps(
                    self.error_body(fault.status, "injected fault"))
                await Response(content, status_code=fault.status, headers=headers,
                               media_type=self.media_type)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _take(self, path: str, method: str) -> Fault | None:
        for fault in self.faults:
            if path.startswith(fault.path) and (fault.method is None or fault.method == method):
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    async def _control(self, request: Request) -> Response:
        if request.method == "POST":
            data = await request.json()
            self.faults.append(Fault(**data))
            return JSONResponse({"armed": len(self.faults)}, status_code=201)
        if request.method == "DELETE":
            self.faults.clear()
            return Response(status_code=204)
        return JSONResponse([asdict(f) for f in self.faults])


def serve_main(name: str, factory: Callable[[argparse.Namespace], ASGIApp], default_port: int,
               extra: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """``python -m sandbox.<name> --port N --data-dir D``: run the sandbox on 127.0.0.1.

    ``extra`` adds the sandbox's own options; ``factory`` gets the parsed arguments.
    """
    import uvicorn

    parser = argparse.ArgumentParser(prog=f"python -m sandbox.{name}",
                                     description=f"{name} sandbox server (127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=default_port)
    parser.add_argument("--data-dir", type=Path, default=Path("var") / "sandbox" / name)
    parser.add_argument("--log-level", default="warning")
    if extra:
        extra(parser)
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=args.log_level.upper(),
                        format=f"%(asctime)s {name} %(levelname)s %(message)s")
    app = factory(args)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level=args.log_level,
                access_log=False)
