"""How each kind of injected fault misbehaves on the wire (used by :mod:`sandbox.common`).

::

    status         answer ``status`` (503 unless told), with ``Retry-After`` when given
    retry_after    429 with ``Retry-After`` (seconds)
    timeout        hold the request ``hold`` seconds without answering (longer than the
                   client's timeout), then 504 if anyone still listens; nothing is forwarded
    reset          close the connection without an answer (TCP reset; needs a real socket)
    lost_response  pass the request on, so the write IS committed, then drop the answer:
                   reset the connection or answer 502 (``lost_as``)
    malformed      200 with a body that is not the answer: the real answer cut short
                   (``truncate``, the request is passed on) or a proxy page that is not
                   JSON (``garbage``, nothing is forwarded)

Only ``reset`` and ``lost_response`` with ``lost_as="reset"`` need a server socket
(uvicorn); the others also work under ``httpx.ASGITransport``.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["KINDS", "read_body", "replay", "capture", "reset", "hold", "send_plain"]

KINDS = ("status", "retry_after", "timeout", "reset", "lost_response", "malformed")

GARBAGE = b"<html><head><title>502 Proxy Error</title></head><body>Upstream maintenance</body>"


async def read_body(receive: Receive) -> bytes:
    """The whole request body (bounded by what the client sends)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the already-read body once, then waits on the real one."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


async def capture(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run ``app`` to completion and keep its answer instead of sending it."""
    status = 500
    headers: list[tuple[bytes, bytes]] = []
    body = bytearray()

    async def keep(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status = int(message["status"])
            headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, keep)
    return status, headers, bytes(body)


def _transport(receive: Receive) -> Any:
    """The server's transport behind ``receive`` (uvicorn's request cycle holds it), or None."""
    return getattr(getattr(receive, "__self__", None), "transport", None)


async def reset(receive: Receive) -> None:
    """Abort the connection with a TCP reset and no answer at all."""
    cycle = getattr(receive, "__self__", None)
    transport = _transport(receive)
    if transport is None:
        raise ConnectionResetError("injected reset: this kind needs a real server socket")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # linger 0: close() sends RST instead of FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    for _ in range(20):  # let the server notice before the app returns (no 500 is sent then)
        if getattr(cycle, "disconnected", True):
            break
        await asyncio.sleep(0)


async def hold(receive: Receive, seconds: float) -> bool:
    """Hold the request for ``seconds`` or until the client hangs up; True if it hung up."""
    await read_body(receive)
    try:
        message = await asyncio.wait_for(receive(), timeout=seconds)
    except TimeoutError:
        return False
    return message.get("type") == "http.disconnect"


async def send_plain(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    """Send a complete response with exactly these headers plus a correct Content-Length."""
    kept = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"transfer-encoding",
                                                          b"content-encoding")]
    kept.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": kept})
    await send({"type": "http.response.body", "body": body, "more_body": False})
