"""A fault-injecting reverse proxy, for testing any HTTP connector against any real peer.

``python -m sandbox.faultproxy --upstream http://127.0.0.1:8703 --port N`` forwards every
request to the upstream unchanged, except that faults armed through
``POST /_sandbox/faults`` (see :mod:`sandbox.common`) answer instead: 401, 404, 422, 429
with ``Retry-After``, 503, timeouts, resets, a response lost after the write, a malformed
body — one at a time or at a rate (``{"path": "/", "rate": 0.2, "seed": 7}``), counted at
``GET /_sandbox/faults/stats``. The contract suite and the chaos bench put one in front of
every HTTP adapter's peer — also the real Request Tracker, which has no fault injection of
its own. An upstream that cannot be reached answers 502 (504 when it times out), as a
real reverse proxy does.
"""

from __future__ import annotations

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.common import FaultInjector

__all__ = ["create_app", "start_fault_proxy"]

_HOP = {"host", "content-length", "connection", "keep-alive", "transfer-encoding", "accept-encoding"}
# The client's Host goes upstream unchanged (a reverse proxy that preserves the host): a peer
# that builds absolute links from it (Noark 5 hrefs) then links back through the proxy, so a
# connector that follows links stays behind the faults.
_REQUEST_HOP = _HOP - {"host"}


class _Forward:
    def __init__(self, upstream: str) -> None:
        self.client = httpx.AsyncClient(base_url=upstream.rstrip("/"), timeout=60)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        body = await request.body()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _REQUEST_HOP}
        try:
            upstream = await self.client.request(request.method, request.url.path, params=request.query_params,
                                                 content=body, headers=headers)
        except httpx.TimeoutException:
            await Response("upstream timed out", status_code=504)(scope, receive, send)
            return
        except httpx.HTTPError as exc:
            await Response(f"upstream unreachable: {exc.__class__.__name__}", status_code=502)(scope, receive, send)
            return
        out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP | {"content-encoding"}}
        await Response(upstream.content, status_code=upstream.status_code, headers=out)(scope, receive, send)


def create_app(upstream: str, control_token: str | None = None) -> ASGIApp:
    return FaultInjector(_Forward(upstream), control_token=control_token)


def start_fault_proxy(upstream: str, log_dir: object, *, port: int | None = None,
                      control_token: str | None = None, access_log: bool = False) -> object:
    """Start the proxy as a subprocess on 127.0.0.1; ``proc.url`` is its root.

    Its ``/_sandbox/*`` routes need the control token (``control_token``, else
    ``$HUB_SANDBOX_TOKEN``, else a new one: see :func:`sandbox.common.ensure_control_token`).
    """
    from pathlib import Path

    from sandbox.common import TOKEN_ENV, check_control, ensure_control_token
    from sandbox.procs import free_port, python_module, start, wait_http

    port = port or free_port()
    token = ensure_control_token(control_token)
    proc = start(f"faultproxy-{port}", python_module("sandbox.faultproxy", "--upstream", upstream,
                                                     "--port", str(port), *(["--access-log"] if access_log else [])),
                 log_dir=Path(str(log_dir)), url=f"http://127.0.0.1:{port}", env={TOKEN_ENV: token})
    wait_http(f"{proc.url}/_sandbox/faults", 30, proc=proc)  # 401 without the token: up
    check_control(proc.url, token)
    proc.extra["control_token"] = token
    return proc
