"""Start the Nettskjema sandbox as a real subprocess (tests, demo, benchmarks)."""

from __future__ import annotations

from pathlib import Path

from sandbox.common import TOKEN_ENV, check_control, ensure_control_token
from sandbox.procs import Proc, free_port, python_module, start, wait_http

__all__ = ["start_nettskjema_sandbox", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "DEFAULT_TOKEN_TTL",
           "DEFAULT_PORT"]

DEFAULT_PORT = 8704
DEFAULT_CLIENT_ID = "hub-client"  # what hub.settings uses by default
DEFAULT_CLIENT_SECRET = "sandbox-nettskjema-secret"
DEFAULT_TOKEN_TTL = 86400


def start_nettskjema_sandbox(data_dir: Path, log_dir: Path, *, port: int | None = None,
                             client_id: str = DEFAULT_CLIENT_ID,
                             client_secret: str = DEFAULT_CLIENT_SECRET,
                             token_ttl: int = DEFAULT_TOKEN_TTL, timeout: float = 30.0,
                             control_token: str | None = None) -> Proc:
    """Run ``python -m sandbox.nettskjema`` on 127.0.0.1 and wait until it answers.

    ``proc.url`` is the server root (``http://127.0.0.1:N``, where ``/_sandbox/`` lives);
    ``proc.extra`` holds ``base_url`` (``.../api/v3``, the connector's base URL),
    ``token_url`` (``.../oauth2/token``), ``client_id`` and ``client_secret``.
    The control token (``control_token``, else ``$HUB_SANDBOX_TOKEN``, else a new one that
    becomes this process's ``$HUB_SANDBOX_TOKEN``) is in ``proc.extra["control_token"]``.
    """
    port = port or free_port()
    token = ensure_control_token(control_token)
    args = ["--port", str(port), "--data-dir", str(data_dir), "--client-id", client_id,
            "--client-secret", client_secret, "--token-ttl", str(token_ttl)]
    root = f"http://127.0.0.1:{port}"
    proc = start(f"sandbox-nettskjema-{port}", python_module("sandbox.nettskjema", *args), log_dir=log_dir,
                 url=root, env={TOKEN_ENV: token})  # not on the command line, where ps shows it
    try:
        wait_http(f"{root}/_sandbox/health", timeout=timeout, proc=proc)  # 401 without the token: up
        check_control(root, token)
    except Exception:
        proc.stop()
        raise
    proc.extra.update(base_url=f"{root}/api/v3", token_url=f"{root}/oauth2/token", client_id=client_id,
                      client_secret=client_secret, control_token=token)
    return proc
