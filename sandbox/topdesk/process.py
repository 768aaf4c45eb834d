"""Start the TOPdesk sandbox as a real subprocess (tests, demo, benchmarks)."""

from __future__ import annotations

from pathlib import Path

from sandbox.common import TOKEN_ENV, check_control, ensure_control_token
from sandbox.procs import Proc, free_port, python_module, start, wait_http
from sandbox.topdesk.app import DEFAULT_APP_PASSWORD, DEFAULT_USERNAME

__all__ = ["start_topdesk_sandbox", "DEFAULT_PORT", "DEFAULT_USERNAME", "DEFAULT_APP_PASSWORD"]

DEFAULT_PORT = 8705


def start_topdesk_sandbox(data_dir: Path, log_dir: Path, *, port: int | None = None,
                          username: str = DEFAULT_USERNAME, app_password: str = DEFAULT_APP_PASSWORD,
                          timeout: float = 30.0, control_token: str | None = None) -> Proc:
    """Run ``python -m sandbox.topdesk`` on 127.0.0.1 and wait until it answers.

    ``proc.url`` is the server root (``http://127.0.0.1:N``, where ``/_sandbox/`` lives);
    ``proc.extra`` holds ``base_url`` (``.../tas/api``, the connector's base URL),
    ``username`` and ``app_password``.
    The control token (``control_token``, else ``$HUB_SANDBOX_TOKEN``, else a new one that
    becomes this process's ``$HUB_SANDBOX_TOKEN``) is in ``proc.extra["control_token"]``.
    """
    port = port or free_port()
    token = ensure_control_token(control_token)
    args = ["--port", str(port), "--data-dir", str(data_dir), "--username", username]
    root = f"http://127.0.0.1:{port}"
    # The password and the control token go through the environment, not the command line (ps).
    proc = start(f"sandbox-topdesk-{port}", python_module("sandbox.topdesk", *args), log_dir=log_dir, url=root,
                 env={"TOPDESK_SANDBOX_APP_PASSWORD": app_password, TOKEN_ENV: token})
    try:
        wait_http(f"{root}/_sandbox/health", timeout=timeout, proc=proc)  # 401 without the token: up
        check_control(root, token)
    except Exception:
        proc.stop()
        raise
    proc.extra.update(base_url=f"{root}/tas/api", username=username, app_password=app_password,
                      control_token=token)
    return proc
