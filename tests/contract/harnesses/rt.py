"""Contract harness for Request Tracker 5 (ticketing): a real RT instance (Debian's package)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from connectors.rt import RtConfig
from hub.ports.ticketing import NewTicket
from sandbox.procs import free_port
from sandbox.rt import create, start
from tests.contract.harness import Harness, Peer


def _ticket(ref: str) -> NewTicket:
    return NewTicket(external_ref=ref, queue="User accounts", subject=f"Contract {ref}",
                     body="Created by the contract suite.")


class RtHarness(Harness):
    def start(self, workdir: Path, log_dir: Path) -> Peer:
        instance = create(workdir / "rt", free_port())
        proc = start(instance)
        return Peer(RtConfig(base_url=instance.base_url, token=instance.token, timeout=20.0), [proc])

    async def setup(self, client: Any, peer: Peer) -> None:
        peer.state["ticket"] = (await client.ensure_ticket(_ticket("contract:probe"))).id

    async def probe(self, client: Any, peer: Peer) -> Any:
        return await client.get_ticket(peer.state["ticket"])

    async def not_found(self, client: Any, peer: Peer) -> Any:
        return await client.get_ticket("999999")

    async def write_twice(self, client: Any, peer: Peer) -> int:
        first = await client.ensure_ticket(_ticket("contract:idempotent"))
        second = await client.ensure_ticket(_ticket("contract:idempotent"))
        assert first.id == second.id
        return len(await client.find_tickets("contract:idempotent"))

    async def paginate(self, client: Any, peer: Peer) -> tuple[int, int]:
        """Three tickets under one ExternalRef (made directly, as drift would), read one per page."""
        config = peer.config
        headers = {"Authorization": f"token {config.auth_token().get_secret_value()}"}
        async with httpx.AsyncClient(base_url=config.rest_url, headers=headers, timeout=30) as http:
            for i in range(3):
                body = {"Queue": "Equipment", "Subject": f"Contract page {i}",
                        "CustomFields": {"ExternalRef": "contract:paged"}}
                (await http.post("ticket", json=body)).raise_for_status()
        return 3, len(await client.find_tickets("contract:paged", per_page=1))


HARNESS = RtHarness()
