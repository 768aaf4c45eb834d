"""Start the Noark 5 sandbox as a real subprocess (tests, demo, benchmarks)."""

from __future__ import annotations

from pathlib import Path

from sandbox.common import TOKEN_ENV, check_control, ensure_control_token
from sandbox.procs import Proc, free_port, python_module, start, wait_http

__all__ = ["start_noark5_sandbox", "DEFAULT_USERNAME", "DEFAULT_PASSWORD"]

DEFAULT_USERNAME = "hub"
DEFAULT_PASSWORD = "sandbox-n5ws-password"


def start_noark5_sandbox(data_dir: Path, log_dir: Path, *, port: int | None = None,
                         username: str = DEFAULT_USERNAME, password: str = DEFAULT_PASSWORD,
                         max_upload_bytes: int | None = None, page_size: int | None = None,
                         timeout: float = 30.0, control_token: str | None = None) -> Proc:
    """Run ``python -m sandbox.noark5`` on 127.0.0.1 and wait until discovery answers.

    ``proc.url`` is the server root (``http://127.0.0.1:N``, where ``/_sandbox/`` lives);
    ``proc.extra["base_url"]`` is the N5WS root for the connector (``.../noark5v5``) and
    ``proc.extra["api_url"]`` the discovery URL (``.../noark5v5/api``).
    The control token (``control_token``, else ``$HUB_SANDBOX_TOKEN``, else a new one that
    becomes this process's ``$HUB_SANDBOX_TOKEN``) is in ``proc.extra["control_token"]``.
    """
    port = port or free_port()
    token = ensure_control_token(control_token)
    args = ["--port", str(port), "--data-dir", str(data_dir), "--username", username,
            "--password", password]
    if max_upload_bytes is not None:
        args += ["--max-upload-bytes", str(max_upload_bytes)]
    if page_size is not None:
        args += ["--page-size", str(page_size)]
    root = f"http://127.0.0.1:{port}"
    proc = start(f"sandbox-noark5-{port}", python_module("sandbox.noark5", *args), log_dir=log_dir,
                 url=root, env={TOKEN_ENV: token})  # not on the command line, where ps shows it
    try:
        wait_http(f"{root}/noark5v5/api", timeout=timeout, proc=proc)
        check_control(root, token)
    except Exception:
        proc.stop()
        raise
    proc.extra.update(base_url=f"{root}/noark5v5", api_url=f"{root}/noark5v5/api",
                      username=username, password=password, control_token=token)
    return proc
