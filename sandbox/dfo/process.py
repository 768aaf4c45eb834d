"""Start the DFØ sandbox as a real subprocess (tests, demo, benchmarks)."""

from __future__ import annotations

from pathlib import Path

from sandbox.common import TOKEN_ENV, check_control, ensure_control_token
from sandbox.procs import Proc, free_port, python_module, start, wait_http

__all__ = ["start_dfo_sandbox"]


def start_dfo_sandbox(data_dir: Path, log_dir: Path, api_key: str, *, intake_url: str | None = None,
                      hmac_secret: str | None = None, port: int | None = None,
                      timeout: float = 30.0, control_token: str | None = None) -> Proc:
    """Run ``python -m sandbox.dfo`` on 127.0.0.1 and wait until it answers.

    ``proc.url`` is the server root (``http://127.0.0.1:N``); the DFØ base URL for the
    connector is ``proc.extra["base_url"]`` (``.../api``).
    The control token (``control_token``, else ``$HUB_SANDBOX_TOKEN``, else a new one that
    becomes this process's ``$HUB_SANDBOX_TOKEN``) is in ``proc.extra["control_token"]``.
    """
    port = port or free_port()
    token = ensure_control_token(control_token)
    args = ["--port", str(port), "--data-dir", str(data_dir), "--api-key", api_key]
    if intake_url:
        args += ["--intake-url", intake_url]
    if hmac_secret:
        args += ["--hmac-secret", hmac_secret]
    root = f"http://127.0.0.1:{port}"
    proc = start("sandbox-dfo", python_module("sandbox.dfo", *args), log_dir=log_dir, url=root,
                 env={TOKEN_ENV: token})  # not on the command line, where ps shows it
    try:
        wait_http(f"{root}/_sandbox/health", timeout=timeout, proc=proc)  # 401 without the token: up
        check_control(root, token)
    except Exception:
        proc.stop()
        raise
    proc.extra.update(base_url=f"{root}/api", control_token=token)
    return proc
