"""The contract suite: every adapter in connectors/registry.py, against a real peer.

Peers start lazily, once per adapter per session. HTTP peers get a fault-injecting proxy in
front (sandbox/faultproxy) so 401/422/429/503 can be provoked the same way for all of them.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from connectors.registry import ADAPTERS, Adapter
from tests.contract.harness import HTTP, Harness, Peer


def harness_for(adapter: Adapter) -> Harness:
    try:
        module = importlib.import_module(f"tests.contract.harnesses.{adapter.name}")
    except ModuleNotFoundError as exc:
        raise AssertionError(f"{adapter.name} is registered but has no tests/contract/harnesses/"
                             f"{adapter.name}.py (python -m devtools new connector writes one)") from exc
    return module.HARNESS  # type: ignore[no-any-return]


def with_capability(capability: str | None, *, without: str | None = None) -> list[Any]:
    chosen = [a for a in ADAPTERS if (capability is None or capability in harness_for(a).capabilities)
              and (without is None or without not in harness_for(a).capabilities)]
    return [pytest.param(a, id=a.name) for a in chosen]


@dataclass
class Running:
    adapter: Adapter
    harness: Harness
    peer: Peer
    proxy: Any = None  # sandbox.procs.Proc of the fault proxy, for HTTP peers

    def client(self, config: Any = None) -> Any:
        return self.adapter.build(config if config is not None else self.peer.config)

    def proxied(self) -> Any:
        return self.adapter.build(self.harness.fast(self.harness.via(self.peer, self.proxy.url)))


class Pool:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.running: dict[str, Running] = {}

    async def get(self, adapter: Adapter) -> Running:
        if adapter.name not in self.running:
            harness = harness_for(adapter)
            work = self.root / adapter.name
            work.mkdir(parents=True, exist_ok=True)
            peer = harness.start(work, work / "logs")
            running = Running(adapter, harness, peer)
            self.running[adapter.name] = running
            if HTTP in harness.capabilities:
                from sandbox.faultproxy import start_fault_proxy

                root = re.match(r"^[a-z]+://[^/]+", peer.config.base_url)
                assert root, f"{adapter.name}: base_url {peer.config.base_url!r} has no host"
                running.proxy = start_fault_proxy(root.group(0), work / "logs")
                peer.procs.append(running.proxy)
            client = running.client()
            try:
                await harness.setup(client, peer)
            finally:
                await client.aclose()
        return self.running[adapter.name]

    def close(self) -> None:
        for running in self.running.values():
            running.peer.stop()


@pytest.fixture(scope="session")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    pool = Pool(tmp_path_factory.mktemp("contract"))
    yield pool
    pool.close()
