"""Contract harness for TOPdesk (ticketing): the TOPdesk sandbox (incidents + asset management)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.topdesk import TopdeskConfig
from hub.ports.ticketing import NewTicket
from sandbox.topdesk import start_topdesk_sandbox
from tests.contract.harness import Harness, Peer

PASSWORD = "contract-topdesk-app-password"


def _ticket(ref: str) -> NewTicket:
    return NewTicket(external_ref=ref, queue="User accounts", subject=f"Contract {ref}",
                     body="Created by the contract suite.", requestor="contract@oslomet.no")


class TopdeskHarness(Harness):
    def start(self, workdir: Path, log_dir: Path) -> Peer:
        proc = start_topdesk_sandbox(workdir / "data", log_dir, app_password=PASSWORD)
        return Peer(TopdeskConfig(base_url=proc.extra["base_url"], username="hub",
                                  app_password=SecretStr(PASSWORD)), [proc])

    async def setup(self, client: Any, peer: Peer) -> None:
        peer.state["ticket"] = (await client.ensure_ticket(_ticket("contract:probe"))).id

    async def probe(self, client: Any, peer: Peer) -> Any:
        return await client.get_ticket(peer.state["ticket"])

    async def not_found(self, client: Any, peer: Peer) -> Any:
        return await client.get_ticket(str(uuid.uuid4()))

    async def write_twice(self, client: Any, peer: Peer) -> int:
        first = await client.ensure_ticket(_ticket("contract:idempotent"))
        second = await client.ensure_ticket(_ticket("contract:idempotent"))
        assert first.id == second.id
        return len(await client.find_tickets("contract:idempotent"))

    async def paginate(self, client: Any, peer: Peer) -> tuple[int, int]:
        """Three incidents under one reference (made directly, as drift would), one per page."""
        auth = ("hub", PASSWORD)
        async with httpx.AsyncClient(base_url=peer.config.base_url, auth=auth, timeout=30) as http:
            for i in range(3):
                body = {"briefDescription": f"Contract page {i}", "request": "paging",
                        "callerLookup": {"email": "contract@oslomet.no"},
                        "optionalFields1": {"text1": "contract:paged"}}
                (await http.post("/incidents", json=body)).raise_for_status()
        return 3, len(await client.find_tickets("contract:paged", per_page=1))


HARNESS = TopdeskHarness()
