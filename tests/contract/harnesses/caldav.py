"""Contract harness for CalDAV (calendar): a real Radicale server with one calendar per room."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connectors.caldav import CaldavConfig
from hub.ports.calendar import NewBooking
from hub.settings import OSLO
from sandbox.radicale.process import start_radicale
from sandbox.radicale.rooms import ROOMS
from tests.contract.harness import HTTP, NOT_FOUND, WRITE, Harness, Peer

PASSWORD = "contract-caldav-password"


def _booking(room: str, ref: str) -> NewBooking:
    day = (datetime.now(OSLO) + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    return NewBooking(external_ref=ref, room_id=room, start=day, end=day + timedelta(hours=1),
                      summary="Kontrakttest", organizer_email="contract@oslomet.no")


class CaldavHarness(Harness):
    capabilities = frozenset({HTTP, NOT_FOUND, WRITE})

    def start(self, workdir: Path, log_dir: Path) -> Peer:
        proc = start_radicale(workdir / "data", log_dir, password=PASSWORD)
        return Peer(CaldavConfig(base_url=proc.url, username="hub", password=SecretStr(PASSWORD)), [proc])

    async def probe(self, client: Any, peer: Peer) -> Any:
        return await client.list_rooms()

    async def not_found(self, client: Any, peer: Peer) -> Any:
        return await client.book(_booking("NO-SUCH-ROOM", "contract-not-found"))

    async def write_twice(self, client: Any, peer: Peer) -> int:
        new = _booking(ROOMS[0].id, "contract-idempotent")
        first, second = await client.book(new), await client.book(new)
        assert first.external_ref == second.external_ref
        return len(await client.busy(new.room_id, new.start, new.end))


HARNESS = CaldavHarness()
