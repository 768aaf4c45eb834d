"""Start the Radicale sandbox as a real subprocess (tests, the stack, the demo)."""

from __future__ import annotations

from pathlib import Path

from sandbox.procs import Proc, free_port, python_module, start, wait_http
from sandbox.radicale.configure import DEFAULT_PASSWORD, DEFAULT_USER

__all__ = ["start_radicale"]


def start_radicale(data_dir: Path, log_dir: Path, port: int | None = None, *, user: str = DEFAULT_USER,
                   password: str = DEFAULT_PASSWORD, timeout: float = 30.0,
                   env: dict[str, str] | None = None) -> Proc:
    """Run ``python -m sandbox.radicale`` on 127.0.0.1 and wait until it answers.

    ``proc.url`` is ``http://127.0.0.1:N``; ``proc.extra`` holds ``home`` (the calendar
    home path, ``/hub/``), ``user`` and ``password``.
    """
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start("radicale", python_module("sandbox.radicale", "--port", str(port), "--data-dir", str(data_dir),
                                           "--user", user, "--password", password),
                 log_dir=log_dir, url=url, env=env)
    try:
        # Radicale answers 401 on the calendar home until a client authenticates: it is up.
        wait_http(f"{url}/{user}/", timeout, proc=proc, ok=lambda r: r.status_code in (200, 207, 401))
    except Exception:
        proc.stop()
        raise
    proc.extra.update({"home": f"/{user}/", "user": user, "password": password})
    return proc
