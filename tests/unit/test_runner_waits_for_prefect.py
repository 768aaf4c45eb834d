"""The runner waits for the Prefect server instead of exiting: after a host reboot, or when
both are killed at once, the server may come up after the runner (the chaos bench found a
runner restarted into a stopped server exiting until its supervisor gave up)."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
import uvicorn
from prefect.settings import PREFECT_API_URL, temporary_settings
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from deployments.serve import wait_for_prefect
from sandbox.procs import free_port


def _serve_health_later(port: int, delay: float) -> uvicorn.Server:
    async def health(_: object) -> JSONResponse:
        return JSONResponse(True)

    server = uvicorn.Server(uvicorn.Config(Starlette(routes=[Route("/api/health", health)]), host="127.0.0.1",
                                           port=port, log_level="warning"))

    def run() -> None:
        time.sleep(delay)
        server.run()

    threading.Thread(target=run, daemon=True).start()
    return server


async def test_the_runner_waits_until_the_server_answers(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    started = time.monotonic()  # the server cannot answer before its 5 s have passed (2 s was flaky under load)
    server = _serve_health_later(port, delay=5.0)
    try:
        with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{port}/api"}):
            await wait_for_prefect(max_wait=60)
            assert time.monotonic() - started >= 5.0  # it waited for the server, it did not exit
        assert "waiting for the Prefect server" in capsys.readouterr().out
    finally:
        server.should_exit = True
        await asyncio.sleep(0.2)


async def test_a_bound_on_the_wait_says_what_did_not_answer() -> None:
    port = free_port()
    with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{port}/api"}), \
            pytest.raises(RuntimeError, match=f"127.0.0.1:{port}/api/health did not answer"):
        await wait_for_prefect(max_wait=1)
