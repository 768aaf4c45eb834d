"""Starting and stopping the hub's local processes (servers, sandboxes, workers).

Used by the demo stack, by the tests' fixtures and by the benchmarks, so that every one of
them starts things the same way: on 127.0.0.1, with a log file, waiting until healthy, and
stopping cleanly (SIGTERM, then SIGKILL after a grace period) with the whole process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["free_port", "wait_http", "wait_tcp", "Proc", "start", "python_module", "ROOT"]

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_tcp(port: int, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s")
        time.sleep(0.1)


def wait_http(url: str, timeout: float = 60.0, ok: Callable[[httpx.Response], bool] | None = None,
              proc: Proc | None = None) -> None:
    """Poll ``url`` until it answers (any status < 500, or ``ok(response)``)."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.popen.poll() is not None:
            raise RuntimeError(f"{proc.name} exited with {proc.popen.returncode} before it was "
                               f"ready; see {proc.log_path}:\n{proc.tail()}")
        try:
            response = httpx.get(url, timeout=2.0)
            if (ok(response) if ok else response.status_code < 500):
                return
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = exc.__class__.__name__
        time.sleep(0.2)
    where = f"; see {proc.log_path}:\n{proc.tail()}" if proc else ""
    raise TimeoutError(f"{url} not ready after {timeout:.0f}s ({last}){where}")


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, grace: float = 10.0) -> None:
        if self.popen.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGTERM)
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=5)


def start(name: str, cmd: Sequence[str], *, log_dir: Path, env: Mapping[str, str] | None = None,
          cwd: Path | None = None, url: str | None = None) -> Proc:
    """Start ``cmd`` in its own process group, output to ``log_dir/<name>.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    with open(log_path, "ab") as log:
        popen = subprocess.Popen(
            list(cmd), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=full_env, cwd=str(cwd or ROOT), start_new_session=True,
        )
    return Proc(name=name, popen=popen, log_path=log_path, url=url)


def python_module(module: str, *args: str) -> list[str]:
    """Command line that runs ``python -m module args`` with this interpreter."""
    return [sys.executable, "-m", module, *args]
