"""Start the DFØ sandbox as a real subprocess (tests, demo, benchmarks)."""

from __future__ import annotations

from pathlib import Path

from hub.procs import Proc, free_port, python_module, start, wait_http

__all__ = ["start_dfo_sandbox"]


def start_dfo_sandbox(data_dir: Path, log_dir: Path, api_key: str, *, intake_url: str | None = None,
                      hmac_secret: str | None = None, port: int | None = None,
                      timeout: float = 30.0) -> Proc:
    """Run ``python -m sandbox.dfo`` on 127.0.0.1 and wait until it answers.

    ``proc.url`` is the server root (``http://127.0.0.1:N``); the DFØ base URL for the
    connector is ``proc.extra["base_url"]`` (``.../api``).
    """
    port = port or free_port()
    args = ["--port", str(port), "--data-dir", str(data_dir), "--api-key", api_key]
    if intake_url:
        args += ["--intake-url", intake_url]
    if hmac_secret:
        args += ["--hmac-secret", hmac_secret]
    root = f"http://127.0.0.1:{port}"
    proc = start("sandbox-dfo", python_module("sandbox.dfo", *args), log_dir=log_dir, url=root)
    try:
        wait_http(f"{root}/_sandbox/health", timeout=timeout, proc=proc)
    except Exception:
        proc.stop()
        raise
    proc.extra["base_url"] = f"{root}/api"
    return proc
