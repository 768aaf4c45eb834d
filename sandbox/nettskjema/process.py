"""Start the Nettskjema sandbox as a real subprocess (tests, demo, benchmarks)."""

from __future__ import annotations

from pathlib import Path

from hub.procs import Proc, free_port, python_module, start, wait_http

__all__ = ["start_nettskjema_sandbox", "DEFAULT_CLIENT_ID", "DEFAULT_CLIENT_SECRET", "DEFAULT_TOKEN_TTL",
           "DEFAULT_PORT"]

DEFAULT_PORT = 8704
DEFAULT_CLIENT_ID = "hub-client"  # what hub.settings uses by default
DEFAULT_CLIENT_SECRET = "sandbox-nettskjema-secret"
DEFAULT_TOKEN_TTL = 86400


def start_nettskjema_sandbox(data_dir: Path, log_dir: Path, *, port: int | None = None,
                             client_id: str = DEFAULT_CLIENT_ID,
                             client_secret: str = DEFAULT_CLIENT_SECRET,
                             token_ttl: int = DEFAULT_TOKEN_TTL, timeout: float = 30.0) -> Proc:
    """Run ``python -m sandbox.nettskjema`` on 127.0.0.1 and wait until it answers.

    ``proc.url`` is the server root (``http://127.0.0.1:N``, where ``/_sandbox/`` lives);
    ``proc.extra`` holds ``base_url`` (``.../api/v3``, the connector's base URL),
    ``token_url`` (``.../oauth2/token``), ``client_id`` and ``client_secret``.
    """
    port = port or free_port()
    args = ["--port", str(port), "--data-dir", str(data_dir), "--client-id", client_id,
            "--client-secret", client_secret, "--token-ttl", str(token_ttl)]
    root = f"http://127.0.0.1:{port}"
    proc = start(f"sandbox-nettskjema-{port}", python_module("sandbox.nettskjema", *args), log_dir=log_dir,
                 url=root)
    try:
        wait_http(f"{root}/_sandbox/health", timeout=timeout, proc=proc)
    except Exception:
        proc.stop()
        raise
    proc.extra.update(base_url=f"{root}/api/v3", token_url=f"{root}/oauth2/token", client_id=client_id,
                      client_secret=client_secret)
    return proc
