"""Contract harness for Nettskjema (forms): the Nettskjema sandbox. Forms are read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from connectors.nettskjema import NettskjemaConfig
from sandbox.common import control_headers
from sandbox.nettskjema.forms import LAPTOP_FORM_ID
from sandbox.nettskjema.process import start_nettskjema_sandbox
from tests.contract.harness import HTTP, NOT_FOUND, PAGINATE, Harness, Peer

SECRET = "contract-nettskjema-secret"


class NettskjemaHarness(Harness):
    capabilities = frozenset({HTTP, NOT_FOUND, PAGINATE})

    def start(self, workdir: Path, log_dir: Path) -> Peer:
        proc = start_nettskjema_sandbox(workdir / "data", log_dir, client_secret=SECRET)
        config = NettskjemaConfig(base_url=proc.extra["base_url"], token_url=proc.extra["token_url"],
                                  client_id=proc.extra["client_id"], client_secret=SecretStr(SECRET))
        return Peer(config, [proc], {"root": proc.url})

    async def setup(self, client: Any, peer: Peer) -> None:
        peer.state["first"] = [m async for m in client.submissions_after(LAPTOP_FORM_ID, None)][0].submission_id

    async def probe(self, client: Any, peer: Peer) -> Any:
        return await client.get_submission(peer.state["first"])

    async def not_found(self, client: Any, peer: Peer) -> Any:
        return await client.get_submission(99_999_999)

    async def paginate(self, client: Any, peer: Peer) -> tuple[int, int]:
        async with httpx.AsyncClient(base_url=peer.state["root"]) as http:
            (await http.post(f"/_sandbox/forms/{LAPTOP_FORM_ID}/bulk", headers=control_headers(),
                             json={"count": 1500})).raise_for_status()
        before = len([m async for m in client.submissions_after(LAPTOP_FORM_ID, None)])
        return before, len([m async for m in client.submissions_after(LAPTOP_FORM_ID, 0)])


HARNESS = NettskjemaHarness()
