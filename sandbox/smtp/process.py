"""Start the SMTP sandbox as a real subprocess (tests, demo, benchmarks)."""

from __future__ import annotations

from pathlib import Path

from sandbox.procs import Proc, free_port, python_module, start, wait_tcp

__all__ = ["start_smtp_sandbox"]


def start_smtp_sandbox(maildir: Path, log_dir: Path, *, port: int | None = None,
                       auth: str | None = None, timeout: float = 30.0) -> Proc:
    """Run ``python -m sandbox.smtp`` on 127.0.0.1 and wait until it accepts connections.

    ``proc.url`` is ``smtp://127.0.0.1:N`` (the connector's ``base_url``);
    ``proc.extra["maildir"]`` is where messages land.
    """
    port = port or free_port()
    args = ["--port", str(port), "--maildir", str(maildir)]
    if auth:
        args += ["--auth", auth]
    proc = start("sandbox-smtp", python_module("sandbox.smtp", *args), log_dir=log_dir,
                 url=f"smtp://127.0.0.1:{port}")
    try:
        wait_tcp(port, timeout=timeout)
    except Exception:
        proc.stop()
        raise
    proc.extra["maildir"] = str(maildir)
    return proc
