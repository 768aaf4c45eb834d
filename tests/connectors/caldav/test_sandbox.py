"""The Radicale sandbox: 127.0.0.1 only, its rooms, and data that survives a restart."""

from __future__ import annotations

import configparser
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import SecretStr

from connectors.caldav import CaldavCalendar, CaldavConfig
from connectors.caldav.config import ROOMS_NAMESPACE
from hub.ports.calendar import NewBooking
from hub.settings import OSLO
from sandbox.radicale import DEFAULT_PASSWORD, ROOMS, ROOMS_NS, start_radicale
from sandbox.radicale.configure import config_path


async def test_restart_keeps_rooms_and_bookings_and_listens_on_loopback_only(tmp_path: Path) -> None:
    assert ROOMS_NS == ROOMS_NAMESPACE  # the sandbox writes what the connector reads
    start = (datetime.now(OSLO) + timedelta(days=4)).replace(hour=9, minute=0, second=0, microsecond=0)
    new = NewBooking(external_ref="gr-restart-1", room_id="KJ-B120", start=start, end=start + timedelta(hours=1),
                     summary="Restart", organizer_email="kari@oslomet.no")
    for round_ in (1, 2):
        proc = start_radicale(tmp_path / "data", tmp_path / "logs")
        try:
            calendar = CaldavCalendar(CaldavConfig(base_url=proc.url, username="hub",
                                                   password=SecretStr(DEFAULT_PASSWORD)))
            try:
                assert len(await calendar.list_rooms()) == len(ROOMS)  # provisioned once, not twice
                if round_ == 1:
                    await calendar.book(new)
                else:
                    found = await calendar.find_booking("gr-restart-1")
                    assert found is not None and found.start == start
            finally:
                await calendar.aclose()
        finally:
            proc.stop()
    config = configparser.ConfigParser()
    config.read(config_path(tmp_path / "data"))
    assert config["server"]["hosts"].startswith("127.0.0.1:")
    assert DEFAULT_PASSWORD not in (tmp_path / "data" / "users").read_text()  # stored hashed
    log = (tmp_path / "logs" / "radicale.log").read_text()
    assert f"{len(ROOMS)} room calendar(s) created" in log and "0 room calendar(s) created" in log
