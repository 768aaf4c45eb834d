"""What every sandbox server shares: fault injection, a health route, and the runner.

Fault injection lets tests make a sandbox misbehave the way real systems do::

    POST /_sandbox/faults  {"path": "/api/v3/form", "status": 429, "count": 2,
                            "retry_after": 1, "delay": 0}
    POST /_sandbox/faults  {"path": "/api/v3/form", "kind": "lost_response", "count": 1}
    POST /_sandbox/faults  {"path": "/", "rate": 0.2, "seed": 7,
                            "kinds": ["status", "retry_after", "timeout", "reset",
                                      "lost_response", "malformed"]}
    DELETE /_sandbox/faults
    GET /_sandbox/faults/stats      {"requests": N, "injected": {"timeout": 3, ...}, ...}
    DELETE /_sandbox/faults/stats   (start counting again)

The next ``count`` requests whose path starts with ``path`` get the fault ``kind``
(:mod:`sandbox.faultkinds` describes each: ``status``, ``retry_after``, ``timeout``,
``reset``, ``lost_response``, ``malformed``), after a ``delay`` in seconds when given; with
``skip``, the first ``skip`` of them pass untouched first (the second of two writes fails).
With ``rate``, the fault is probabilistic instead: each matching request (paths under
``exclude`` never) is hit with that chance, with a kind drawn from ``kinds`` by a
``random.Random(seed)`` of its own, until the fault is deleted. ``GET /_sandbox/faults``
lists what is armed. A sandbox listens on 127.0.0.1 only.

Every ``/_sandbox/*`` route (faults, health and each sandbox's own control routes) needs
the control token, as ``X-Sandbox-Token: <token>`` or ``Authorization: Bearer <token>``;
anything else gets 401 and changes nothing. A sandbox takes it from ``--control-token``,
else ``$HUB_SANDBOX_TOKEN``, else keeps a random one in ``<data-dir>/control-token``. The
local stack keeps one per home in ``<home>/sandbox/control-token`` (the demo's:
``var/sandbox/control-token``); :func:`control_headers` finds it for clients.
"""

from __future__ import annotations

import argparse
import asyncio
import hmac
import json
import logging
import os
import random
import secrets
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox import faultkinds
from sandbox.faultkinds import KINDS

__all__ = ["Fault", "FaultInjector", "KINDS", "serve_main", "ControlGate", "MissingControlToken", "TOKEN_ENV", "TOKEN_HEADER",
           "control_headers", "find_control_token", "ensure_control_token", "keep_token",
           "check_control", "serve_token"]


@dataclass
class Fault:
    path: str = "/"
    status: int = 503
    count: int = 1
    skip: int = 0  # matching requests that pass untouched before the fault's first
    retry_after: float | None = None
    delay: float = 0.0
    body: str | None = None
    method: str | None = None
    kind: str = "status"
    hold: float = 15.0  # timeout: seconds to hold the request (more than the client waits)
    lost_as: str | None = None  # lost_response: "reset" or "502" (drawn when None)
    malformed_as: str | None = None  # malformed: "truncate" or "garbage" (drawn when None)
    rate: float | None = None  # probabilistic: chance per matching request
    kinds: list[str] | None = None  # probabilistic: kinds to draw from (all when None)
    statuses: list[int] = field(default_factory=lambda: [502, 503, 504])  # kind "status" when drawn
    seed: int | None = None
    exclude: list[str] = field(default_factory=lambda: ["/_sandbox"])
    _rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    def __post_init__(self) -> None:
        for kind in [self.kind, *(self.kinds or [])]:
            if kind not in KINDS:
                raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(KINDS)}")
        if self.rate is not None and not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        self._rng = random.Random(self.seed)

    def public(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    def matches(self, path: str, method: str) -> bool:
        return (path.startswith(self.path) and (self.method is None or self.method == method)
                and not any(path.startswith(prefix) for prefix in self.exclude if prefix))

    def draw(self) -> Fault | None:
        """Probabilistic faults: this request's fault (a one-off copy), or None to let it pass."""
        if self._rng.random() >= (self.rate or 0.0):
            return None
        kind = self._rng.choice(self.kinds or list(KINDS))
        return Fault(path=self.path, kind=kind, hold=self.hold, delay=self.delay,
                     status=self._rng.choice(self.statuses) if kind == "status" else self.status,
                     retry_after=(self.retry_after or 1) if kind == "retry_after" else None,
                     lost_as=self.lost_as or self._rng.choice(["reset", "502"]),
                     malformed_as=self.malformed_as or self._rng.choice(["truncate", "garbage"]))


class FaultInjector:
    """ASGI middleware holding a list of armed faults, plus the ``/_sandbox/faults`` API."""

    def __init__(self, app: ASGIApp, *, error_body: Callable[[int, str], Any] | None = None,
                 media_type: str = "application/json", control_token: str | None = None) -> None:
        self.app = app
        self.control = ControlGate(control_token)  # see ControlGate
        self.faults: list[Fault] = []
        self.error_body = error_body or (lambda status, msg: {"error": msg, "status": status})
        self.media_type = media_type
        self.requests = 0
        self.injected: Counter[str] = Counter()
        self.statuses: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if await self.control.refused(scope, receive, send):  # /_sandbox/* without the token
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/_sandbox/faults" or path.startswith("/_sandbox/faults/"):
            response = await self._control(Request(scope, receive))
            await response(scope, receive, send)
            return
        self.requests += 1
        fault = self._take(path, scope["method"])
        if fault is None:
            await self.app(scope, receive, send)
            return
        if fault.delay:
            await asyncio.sleep(fault.delay)
        await self._inject(fault, scope, receive, send)

    async def _inject(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        kind = fault.kind
        if kind == "status" and not (fault.status and fault.status >= 400):
            await self.app(scope, receive, send)  # a pure delay
            return
        self.injected[kind] += 1
        if kind in ("status", "retry_after"):
            status = 429 if kind == "retry_after" else fault.status
            self.statuses[str(status)] += 1
            await self._error(status, fault, scope, receive, send)
        elif kind == "timeout":
            if not await faultkinds.hold(receive, fault.hold):
                await self._error(504, fault, scope, receive, send)
        elif kind == "reset":
            await faultkinds.reset(receive)
        elif kind == "lost_response":
            body = await faultkinds.read_body(receive)
            await faultkinds.capture(self.app, scope, faultkinds.replay(body, receive))  # committed
            if fault.lost_as == "502":
                await self._error(502, fault, scope, receive, send)
            else:
                await faultkinds.reset(receive)
        elif kind == "malformed":
            if fault.malformed_as == "garbage" or fault.body is not None:  # ``body``: this garbage
                garbage = faultkinds.GARBAGE if fault.body is None else fault.body.encode("utf-8")
                await faultkinds.send_plain(send, 200, garbage, [(b"content-type", self.media_type.encode())])
                return
            body = await faultkinds.read_body(receive)
            _, headers, content = await faultkinds.capture(self.app, scope, faultkinds.replay(body, receive))
            cut = content[: len(content) // 2] if len(content) > 1 else b"{"
            await faultkinds.send_plain(send, 200, cut, headers)

    async def _error(self, status: int, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {}
        if status == 429 or fault.retry_after is not None:
            headers["Retry-After"] = str(int(fault.retry_after if fault.retry_after is not None else 1))
        content = fault.body if fault.body is not None else json.dumps(self.error_body(status, "injected fault"))
        await Response(content, status_code=status, headers=headers, media_type=self.media_type)(scope, receive, send)

    def _take(self, path: str, method: str) -> Fault | None:
        for fault in list(self.faults):
            if not fault.matches(path, method):
                continue
            if fault.rate is not None:
                drawn = fault.draw()
                if drawn is not None:
                    return drawn
                continue
            if fault.skip > 0:
                fault.skip -= 1
                return None
            fault.count -= 1
            if fault.count <= 0:
                self.faults.remove(fault)
            return fault
        return None

    def stats(self) -> dict[str, Any]:
        return {"requests": self.requests, "injected": dict(self.injected),
                "total_injected": sum(self.injected.values()), "statuses": dict(self.statuses)}

    async def _control(self, request: Request) -> Response:
        if request.url.path == "/_sandbox/faults/stats":
            if request.method == "DELETE":
                self.requests = 0
                self.injected.clear()
                self.statuses.clear()
                return Response(status_code=204)
            return JSONResponse(self.stats())
        if request.method == "POST":
            data = await request.json()
            try:
                self.faults.append(Fault(**{k: v for k, v in data.items() if not k.startswith("_")}))
            except (TypeError, ValueError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=422)
            return JSONResponse({"armed": len(self.faults)}, status_code=201)
        if request.method == "DELETE":
            self.faults.clear()
            return Response(status_code=204)
        return JSONResponse([f.public() for f in self.faults])


# ---- the control token: every /_sandbox/* route needs it --------------------------------

TOKEN_ENV = "HUB_SANDBOX_TOKEN"
TOKEN_HEADER = "X-Sandbox-Token"
TOKEN_FILE = "control-token"
CONTROL_PREFIX = "/_sandbox"
_ROOT = Path(__file__).resolve().parents[1]
_HOW = ("send the sandbox control token as X-Sandbox-Token (or Authorization: Bearer). The local "
        "stack keeps it in <home>/sandbox/control-token (the demo: var/sandbox/control-token), a "
        "sandbox started alone in <data-dir>/control-token; HUB_SANDBOX_TOKEN also sets it.")


class MissingControlToken(RuntimeError):
    """No control token was given and none was found."""


class ControlGate:
    """The check in front of every ``/_sandbox/*`` route: the right token, in constant time, or 401.

    ``token`` defaults to ``$HUB_SANDBOX_TOKEN``; with neither, the gate holds a random token
    nobody knows, so the control routes stay shut rather than open.
    """

    def __init__(self, token: str | None = None) -> None:
        token = token or os.environ.get(TOKEN_ENV)
        if not token:
            logging.getLogger("sandbox").warning("no control token given: every /_sandbox call is refused")
        self._token = (token or secrets.token_urlsafe(32)).encode("utf-8")

    @staticmethod
    def guards(path: str) -> bool:
        return ("/" + path.lstrip("/")).startswith(CONTROL_PREFIX)

    def allows(self, headers: Headers) -> bool:
        given = headers.get(TOKEN_HEADER)
        if given is None:
            scheme, _, value = headers.get("authorization", "").partition(" ")
            given = value.strip() if scheme.lower() == "bearer" else ""
        return hmac.compare_digest(given.encode("utf-8"), self._token)

    async def refused(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer 401 and return True for a control call without the right token."""
        if scope["type"] != "http" or not self.guards(scope["path"]) or self.allows(Headers(scope=scope)):
            return False
        body = {"error": "unauthorized", "status": 401, "message": f"/_sandbox routes need a token: {_HOW}"}
        await JSONResponse(body, status_code=401, headers={"WWW-Authenticate": 'Bearer realm="sandbox"'})(
            scope, receive, send)
        return True


def keep_token(path: Path, token: str | None = None) -> str:
    """``token`` (else the one kept at ``path``, else a new random one), kept at ``path`` (0600)."""
    if not token and path.is_file():
        token = path.read_text("utf-8").strip() or None
    token = token or secrets.token_urlsafe(32)
    if not path.is_file() or path.read_text("utf-8").strip() != token:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(token + "\n")
    path.chmod(0o600)
    return token


def ensure_control_token(token: str | None = None) -> str:
    """The token for sandboxes this process starts: ``token``, else ``$HUB_SANDBOX_TOKEN``, else a
    new random one, which then becomes ``$HUB_SANDBOX_TOKEN`` so that child processes and
    :func:`control_headers` agree. An explicit ``token`` leaves the environment alone."""
    if token:
        return token
    os.environ[TOKEN_ENV] = os.environ.get(TOKEN_ENV) or secrets.token_urlsafe(32)
    return os.environ[TOKEN_ENV]


def find_control_token(sandbox: str | None = None) -> tuple[str, str] | None:
    """``(token, where it came from)``: ``$HUB_SANDBOX_TOKEN``, else the stack's file
    (``$HUB_HOME/sandbox/control-token``, ``var/sandbox/control-token``), else the file of
    ``sandbox`` started alone (``var/sandbox/<sandbox>/control-token``); None if none."""
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV], TOKEN_ENV
    homes = [Path(os.environ["HUB_HOME"])] if os.environ.get("HUB_HOME") else []
    homes += [Path("var"), _ROOT / "var"]
    files = [home / "sandbox" / TOKEN_FILE for home in homes]
    files += [home / "sandbox" / sandbox / TOKEN_FILE for home in homes if sandbox]
    for path in files:
        if path.is_file() and path.read_text("utf-8").strip():
            return path.read_text("utf-8").strip(), str(path)
    return None


def control_headers(token: str | None = None, *, sandbox: str | None = None) -> dict[str, str]:
    """Headers for a call to a ``/_sandbox/*`` route; the token is found as
    :func:`find_control_token` says when not given. Raises :class:`MissingControlToken`."""
    if not token:
        found = find_control_token(sandbox)
        if found is None:
            raise MissingControlToken("no sandbox control token: pass --control-token, set HUB_SANDBOX_TOKEN, "
                                      "or run the stack (scripts/demo.sh), which keeps it in "
                                      "var/sandbox/control-token")
        token = found[0]
    return {TOKEN_HEADER: token}


def check_control(url: str | None, token: str, timeout: float = 5.0) -> None:
    """Raise unless the sandbox serving ``url`` accepts ``token`` on its control routes."""
    if not url:
        raise ValueError("check_control needs the sandbox's URL")
    parts = httpx.URL(url)
    root = f"{parts.scheme}://{parts.netloc.decode('ascii')}"
    response = httpx.get(f"{root}{CONTROL_PREFIX}/faults", headers=control_headers(token), timeout=timeout)
    if response.status_code == 401:
        raise RuntimeError(f"the sandbox at {root} refuses the control token; is an older one, started "
                           f"with another token, still running on that port?")
    response.raise_for_status()


def serve_token(given: str | None, data_dir: Path) -> str:
    """A serving sandbox's token: ``--control-token``, else ``$HUB_SANDBOX_TOKEN``, else one kept
    in ``<data-dir>/control-token`` (made the first time; where it is gets printed)."""
    token = given or os.environ.get(TOKEN_ENV)
    if not token:
        path = data_dir / TOKEN_FILE
        token = keep_token(path)
        print(f"sandbox control token: {path.resolve()} (send it as {TOKEN_HEADER})", flush=True)
    os.environ[TOKEN_ENV] = token  # for apps that build their FaultInjector without a token
    return token


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
    parser.add_argument("--control-token", default=None, help="Token for the /_sandbox/* routes (default: "
                        "$HUB_SANDBOX_TOKEN, else one kept in <data-dir>/control-token).")
    if extra:
        extra(parser)
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    args.control_token = serve_token(args.control_token, args.data_dir)
    logging.basicConfig(level=args.log_level.upper(),
                        format=f"%(asctime)s {name} %(levelname)s %(message)s")
    app = factory(args)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level=args.log_level,
                access_log=False)


class JsonFileStore:
    """A sandbox's data as one JSON file in its data folder, written atomically, so it survives
    a restart. A subclass names the file and says what a fresh store holds."""

    filename = "data.json"

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / self.filename
        self.lock = threading.RLock()
        if self.path.exists():
            self.data: dict[str, Any] = json.loads(self.path.read_text("utf-8"))
        else:
            self.data = self.fresh()
            self.save()

    def fresh(self) -> dict[str, Any]:
        raise NotImplementedError

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self.path)

    def reset(self) -> None:
        with self.lock:
            self.data = self.fresh()
            self.save()

    def table(self, name: str) -> dict[str, Any]:
        table: dict[str, Any] = self.data[name]
        return table

