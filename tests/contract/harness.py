"""What the contract suite needs to know about one adapter: how to start a real peer for it,
and which port operations to use for each check. One small subclass per adapter, in
``tests/contract/harnesses/<name>.py`` (``python -m devtools new connector`` writes a first version)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from hub.config import ConnectorConfig
from sandbox.procs import Proc

__all__ = ["Peer", "Harness", "HTTP", "NOT_FOUND", "WRITE", "PAGINATE", "NATIVE_TRANSIENT", "LOCAL"]

HTTP = "http"                  # talks HTTP: faults can be injected by a proxy in front of the peer
NOT_FOUND = "not_found"        # has an operation that asks for something absent
WRITE = "write"                # has idempotent ensure_* writes
PAGINATE = "paginate"          # reads lists that the peer pages
NATIVE_TRANSIENT = "native_transient"  # not HTTP, but can make the peer fail transiently itself
LOCAL = "local"                # reads local files: no network peer that could be unreachable


@dataclass
class Peer:
    config: ConnectorConfig
    procs: list[Proc] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()


class Harness:
    capabilities: frozenset[str] = frozenset({HTTP, NOT_FOUND, WRITE, PAGINATE})

    def start(self, workdir: Path, log_dir: Path) -> Peer:
        raise NotImplementedError("start a real peer (sandbox or server) and return a working config")

    def via(self, peer: Peer, root: str) -> ConnectorConfig:
        """The peer's config, with requests going to ``root`` (a proxy) instead."""
        base = re.sub(r"^[a-z]+://[^/]+", root.rstrip("/"), peer.config.base_url)
        return peer.config.model_copy(update={"base_url": base})

    def bad_credentials(self, config: ConnectorConfig) -> ConnectorConfig:
        """The config with every secret wrong."""
        wrong = {name: SecretStr("wrong-" + value.get_secret_value()) for name, value in config
                 if isinstance(value, SecretStr)}
        return config.model_copy(update=wrong)

    def fast(self, config: ConnectorConfig) -> ConnectorConfig:
        return config.model_copy(update={"max_attempts": 3, "max_retry_seconds": 5.0, "timeout": 5.0})

    async def setup(self, client: Any, peer: Peer) -> None:
        """Create what probe/not_found need (once per peer)."""

    async def probe(self, client: Any, peer: Peer) -> Any:
        raise NotImplementedError("a cheap authenticated call that succeeds on a healthy peer")

    async def not_found(self, client: Any, peer: Peer) -> Any:
        raise NotImplementedError("a call for something that does not exist")

    async def write_twice(self, client: Any, peer: Peer) -> int:
        raise NotImplementedError("do the same ensure_* twice; return how many records the target holds")

    async def paginate(self, client: Any, peer: Peer) -> tuple[int, int]:
        raise NotImplementedError("read a paged list; return (records expected, records seen)")

    def feide_id(self, peer: Peer) -> tuple[str, str]:
        """HR adapters: a Feide id the peer's HR knows, and the employee id it belongs to."""
        raise NotImplementedError("a Feide id of a seeded employee, and that employee's id")

    async def transient(self, client: Any, peer: Peer) -> Any:
        raise NotImplementedError("make the peer fail transiently once; the call must still succeed")
