"""Contract harness for N5WS (archive): the Noark 5 sandbox, with small pages."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connectors.n5ws import N5wsConfig
from hub.ports.archive import NewCaseFile
from sandbox.noark5.process import start_noark5_sandbox
from tests.contract.harness import Harness, Peer

PASSWORD = "contract-n5ws-password"


class N5wsHarness(Harness):
    def start(self, workdir: Path, log_dir: Path) -> Peer:
        proc = start_noark5_sandbox(workdir / "data", log_dir, password=PASSWORD, page_size=2)
        return Peer(N5wsConfig(base_url=proc.extra["base_url"], username="hub", password=SecretStr(PASSWORD)),
                    [proc])

    async def probe(self, client: Any, peer: Peer) -> Any:
        return await client.find_case_files("contract:probe")

    async def not_found(self, client: Any, peer: Peer) -> Any:
        root = peer.config.base_url.rstrip("/")
        return await client.fetch_document(f"{root}/api/arkivstruktur/dokumentobjekt/{uuid.uuid4()}/")

    async def write_twice(self, client: Any, peer: Peer) -> int:
        new = NewCaseFile(external_id="contract:idempotent", title="Kontrakt – idempotens",
                          public_title="Kontrakt – *****", series="Sakarkiv")
        first, second = await client.ensure_case_file(new), await client.ensure_case_file(new)
        assert first.system_id == second.system_id
        return len(await client.find_case_files(new.external_id))

    async def paginate(self, client: Any, peer: Peer) -> tuple[int, int]:
        for i in range(5):  # five case files, two per page
            await client.ensure_case_file(NewCaseFile(external_id=f"contract:page:{i}", title=f"Kontraktside {i}",
                                                      public_title=f"Kontraktside {i}", series="Sakarkiv"))
        return 5, len(await client.find_case_files_by_title_prefix("Kontraktside"))


HARNESS = N5wsHarness()
