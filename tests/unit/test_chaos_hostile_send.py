"""The chaos bench tells a connection cut by its own kill of the intake from the intake giving
no answer (``bench.chaos_workload.send_hostile``), over a real socket: a listener that drops
the first connection unanswered and answers the next one 401."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from bench.chaos_workload import send_hostile
from bench.hostile import HostileRequest


@dataclass
class _Event:
    name: str
    kind: str


@dataclass
class _Supervisor:
    events: list[_Event] = field(default_factory=list)


@dataclass
class _Down:
    pid: int = 0

    def alive(self) -> bool:
        return False


@dataclass
class _Stack:
    intake_url: str
    supervisor: _Supervisor
    procs: dict[str, Any]
    secrets: dict[str, str] = field(default_factory=lambda: {"hmac": "whsec_" + base64.b64encode(b"k" * 32).decode()})


@pytest.fixture
def cutting_intake() -> Iterator[tuple[str, list[str], threading.Event]]:
    """Drops the first connection without an answer (after ``cut`` is set by the caller's
    stand-in for a kill), then answers 401 to each request."""
    server = socket.create_server(("127.0.0.1", 0))
    seen: list[str] = []
    cut = threading.Event()

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.recv(65536)
                if not seen:
                    seen.append("cut")
                    cut.set()
                    continue  # closed unanswered: RemoteProtocolError for the client
                seen.append("401")
                conn.sendall(b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}", seen, cut
    server.close()


def _request() -> HostileRequest:
    return HostileRequest(kind="unicode-id", method="POST", body=b'{"id": "\\u00e6"}', signing="stale",
                          content_type="application/json")


def test_a_cut_while_the_intake_died_is_sent_again_even_if_the_pid_reads_the_same(
        cutting_intake: tuple[str, list[str], threading.Event]) -> None:
    """The request began while the intake was down (no pid) and reached a new one that was
    killed while starting; when it is checked the next one is not up yet (no pid again)."""
    url, seen, cut = cutting_intake
    supervisor = _Supervisor()
    stack = _Stack(url, supervisor, {"intake": _Down()})
    threading.Thread(target=lambda: cut.wait(5) and supervisor.events.append(_Event("intake", "died")),
                     daemon=True).start()
    with httpx.Client() as client:
        assert send_hostile(stack, _request(), client) == "401"  # type: ignore[arg-type]
    assert seen == ["cut", "401"]


def test_a_cut_from_an_intake_that_did_not_die_is_the_answer(
        cutting_intake: tuple[str, list[str], threading.Event]) -> None:
    url, seen, _ = cutting_intake
    stack = _Stack(url, _Supervisor(), {"intake": _Down()})
    with httpx.Client() as client:
        # A socket closed without an answer reads as "disconnected" or, when the close resets
        # it, as a read error (a fresh clone's run of 0b7eb66 saw the latter): either is the cut.
        answer = send_hostile(stack, _request(), client)  # type: ignore[arg-type]
    assert answer in ("RemoteProtocolError", "ReadError")
    assert seen == ["cut"]  # the answer, not a try again
