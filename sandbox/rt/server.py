"""Run an RT instance's web server (REST2 included) on 127.0.0.1.

:func:`start` launches RT's own ``rt-server`` (Plack/Starlet, prefork) as a subprocess
through :mod:`sandbox.procs` and waits until REST2 answers an authenticated request.
:func:`running` is the start/stop pair the tests' session fixtures and the end-to-end
stack share::

    with running(tmp_path / "rt") as rt:
        config = RtConfig(base_url=rt.base_url, token=rt.token)
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from sandbox.procs import Proc, free_port, wait_http
from sandbox.procs import start as start_process
from sandbox.rt.install import RT_SERVER
from sandbox.rt.instance import DEFAULT_BCRYPT_COST, RtInstance, create, load

__all__ = ["server_command", "start", "running", "DEFAULT_WORKERS"]

DEFAULT_WORKERS = 4


def server_command(instance: RtInstance, workers: int = DEFAULT_WORKERS) -> list[str]:
    return [str(RT_SERVER), "--host", "127.0.0.1", "--port", str(instance.port),
            "--max-workers", str(workers)]


def _rest_ready(instance: RtInstance) -> bool:
    try:
        response = httpx.get(f"{instance.rest_url}/rt", timeout=5.0,
                             headers={"Authorization": f"token {instance.token.get_secret_value()}"})
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and "Version" in response.text


def start(instance: RtInstance, *, timeout: float = 90.0, workers: int = DEFAULT_WORKERS,
          name: str = "rt-server") -> Proc:
    """Start ``rt-server`` for ``instance``; return once REST2 accepts the hub's token."""
    started = time.monotonic()
    proc = start_process(name, server_command(instance, workers), log_dir=instance.dir / "log",
                         env=instance.env(), cwd=instance.dir, url=instance.base_url)
    try:
        wait_http(f"{instance.rest_url}/rt", timeout=timeout, proc=proc,
                  ok=lambda response: response.status_code in (200, 401))
        deadline = time.monotonic() + timeout
        while not _rest_ready(instance):
            if time.monotonic() > deadline or not proc.alive():
                raise TimeoutError(f"RT on {instance.base_url} does not accept the hub token; "
                                   f"see {proc.log_path} and {instance.log_path}:\n{proc.tail()}")
            time.sleep(0.2)
    except BaseException:
        proc.stop()
        raise
    proc.extra["start_s"] = f"{time.monotonic() - started:.2f}"
    return proc


@contextmanager
def running(directory: Path, port: int | None = None, *, bcrypt_cost: int = DEFAULT_BCRYPT_COST,
            workers: int = DEFAULT_WORKERS) -> Iterator[RtInstance]:
    """Create (or reuse) the instance in ``directory``, serve it, stop it on exit."""
    port = port or free_port()
    directory = Path(directory)
    if (directory / "instance.json").exists():
        instance = load(directory, port)
    else:
        instance = create(directory, port, bcrypt_cost=bcrypt_cost)
    proc = start(instance, workers=workers)
    instance.timings["server_start_s"] = float(proc.extra["start_s"])
    try:
        yield instance
    finally:
        proc.stop()
