"""Start the Public 360 sandbox as a real subprocess (tests, the local stack, benchmarks)."""

from __future__ import annotations

from pathlib import Path

from sandbox.common import TOKEN_ENV, check_control, ensure_control_token
from sandbox.p360.app import DEFAULT_AUTH_KEY, DEFAULT_CLIENT_ID, RPC_PREFIX
from sandbox.procs import Proc, free_port, python_module, start, wait_http

__all__ = ["start_p360_sandbox", "DEFAULT_PORT"]

DEFAULT_PORT = 8707


def start_p360_sandbox(data_dir: Path, log_dir: Path, *, port: int | None = None,
                       auth_key: str = DEFAULT_AUTH_KEY, client_id: str = DEFAULT_CLIENT_ID,
                       timeout: float = 30.0, control_token: str | None = None) -> Proc:
    """Run ``python -m sandbox.p360`` on 127.0.0.1 and wait until it answers.

    ``proc.url`` is the server root (where ``/_sandbox/`` lives); ``proc.extra`` holds
    ``base_url`` (``.../Biz/v2/api/call/SI.Data.RPC/SI.Data.RPC``, the connector's base URL),
    ``auth_key``, ``client_id`` and ``control_token``. The key and the token go through the
    environment, not the command line.
    """
    port = port or free_port()
    token = ensure_control_token(control_token)
    root = f"http://127.0.0.1:{port}"
    proc = start(f"sandbox-p360-{port}", python_module("sandbox.p360", "--port", str(port), "--data-dir",
                                                       str(data_dir), "--client-id", client_id),
                 log_dir=log_dir, url=root, env={"P360_SANDBOX_AUTH_KEY": auth_key, TOKEN_ENV: token})
    try:
        wait_http(f"{root}/_sandbox/health", timeout=timeout, proc=proc)  # 401 without the token: up
        check_control(root, token)
    except Exception:
        proc.stop()
        raise
    proc.extra.update(base_url=f"{root}{RPC_PREFIX}", auth_key=auth_key, client_id=client_id, control_token=token)
    return proc
