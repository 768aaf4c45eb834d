"""Fixtures: a real DFØ sandbox subprocess and a tiny signed-event receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hub.signing import HEADERS, SignatureError, verify
from sandbox.dfo.process import start_dfo_sandbox
from sandbox.procs import Proc

API_KEY = "test-gravitee-key"
SECRET = "test-hmac-secret"


@dataclass
class Receiver:
    """An HTTP intake stand-in on 127.0.0.1 that records what it got and checks signatures."""

    url: str
    received: list[tuple[bytes, dict[str, str], bool]] = field(default_factory=list)


def signed_with(body: bytes, headers: dict[str, str], secret: str) -> bool:
    """The Standard Webhooks headers are a valid signature of ``body`` with ``secret``."""
    try:
        verify(body, headers, [secret])
    except SignatureError:
        return False
    return True


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    records: list[tuple[bytes, dict[str, str], bool]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            signature = {h: self.headers[h] for h in HEADERS if h in self.headers}
            valid = signed_with(body, signature, SECRET)
            records.append((body, signature, valid))
            answer = json.dumps({"accepted": valid}).encode()
            self.send_response(202 if valid else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Receiver(url=f"http://127.0.0.1:{server.server_address[1]}/events/dfo", received=records)
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("dfo-data")


@pytest.fixture(scope="module")
def dfo(data_dir: Path, receiver: Receiver, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_dfo_sandbox(data_dir, tmp_path_factory.mktemp("logs"), API_KEY,
                             intake_url=receiver.url, hmac_secret=SECRET)
    yield proc
    proc.stop()
