"""Contract harness for DFØ (hr): the DFØ sandbox. HR is read-only: no writes to check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.dfo import DfoConfig
from sandbox.common import control_headers
from sandbox.dfo.process import start_dfo_sandbox
from tests.contract.harness import HTTP, NOT_FOUND, PAGINATE, Harness, Peer


class DfoHarness(Harness):
    capabilities = frozenset({HTTP, NOT_FOUND, PAGINATE})

    def start(self, workdir: Path, log_dir: Path) -> Peer:
        proc = start_dfo_sandbox(workdir / "data", log_dir, "contract-key")
        return Peer(DfoConfig(base_url=proc.extra["base_url"], api_key=SecretStr("contract-key")), [proc],
                    {"root": proc.url})

    async def probe(self, client: Any, peer: Peer) -> Any:
        return await client.get_employee("10001")

    async def not_found(self, client: Any, peer: Peer) -> Any:
        return await client.get_employee("99999")

    def feide_id(self, peer: Peer) -> tuple[str, str]:
        return "ingsae@oslomet.no", "10001"  # seeded by the sandbox: brukerident ingsae

    async def paginate(self, client: Any, peer: Peer) -> tuple[int, int]:
        async with httpx.AsyncClient(headers=control_headers()) as http:
            expected = int((await http.get(f"{peer.state['root']}/_sandbox/health")).json()["ansatte"])
        return expected, len([e async for e in client.list_employees()])


HARNESS = DfoHarness()
