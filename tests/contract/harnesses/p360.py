"""Contract harness for Public 360 (archive): the SIF sandbox, with small pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connectors.p360 import P360Config
from hub.ports.archive import NewCaseFile
from sandbox.p360 import start_p360_sandbox
from tests.contract.harness import Harness, Peer

AUTH_KEY = "contract-p360-authkey"


class P360Harness(Harness):
    def start(self, workdir: Path, log_dir: Path) -> Peer:
        proc = start_p360_sandbox(workdir / "data", log_dir, auth_key=AUTH_KEY, client_id="contract-hub")
        return Peer(P360Config(base_url=proc.extra["base_url"], auth_key=SecretStr(AUTH_KEY),
                               client_id="contract-hub", page_size=2), [proc])

    async def probe(self, client: Any, peer: Peer) -> Any:
        return await client.find_case_files("contract:probe")

    async def not_found(self, client: Any, peer: Peer) -> Any:
        return await client.fetch_document("999999999")  # SIF: Successful false, "File not found"

    async def write_twice(self, client: Any, peer: Peer) -> int:
        new = NewCaseFile(external_id="contract:idempotent", title="Kontrakt – idempotens",
                          public_title="Kontrakt – *****", series="Sakarkiv")
        first, second = await client.ensure_case_file(new), await client.ensure_case_file(new)
        assert first.system_id == second.system_id
        return len(await client.find_case_files(new.external_id))

    async def paginate(self, client: Any, peer: Peer) -> tuple[int, int]:
        for i in range(5):  # five cases, two per page
            await client.ensure_case_file(NewCaseFile(external_id=f"contract:page:{i}", title=f"Kontraktside {i}",
                                                      public_title=f"Kontraktside {i}", series="Sakarkiv"))
        return 5, len(await client.find_case_files_by_title_prefix("Kontraktside"))


HARNESS = P360Harness()
