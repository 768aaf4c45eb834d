"""A slot marker's age is read from the server's ``Date`` and ``Last-Modified`` headers.

``email.utils`` reads an HTTP date with ``-0000``, without a zone, or two ``Date`` headers
folded into one (``a, b``) as a *naive* time; the age must still come out (HTTP dates are
GMT), never a ``TypeError`` from mixing naive and aware times. Parsing only: MockTransport.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.caldav import CaldavConfig
from connectors.caldav.events import marker_ics
from connectors.caldav.slots import SlotMarkers
from hub.http import ApiClient

LAST_MODIFIED = "Tue, 01 Dec 2026 23:00:00 GMT"
MARKER = marker_ics(room_id="P35-U101", slot_start=datetime(2026, 12, 2, 9, tzinfo=UTC),
                    slot_end=datetime(2026, 12, 2, 9, 30, tzinfo=UTC), booking_uid="gr-1-abcdef",
                    now=datetime(2026, 12, 1, 23, tzinfo=UTC))


async def _holder(headers: dict[str, str]) -> Any:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=MARKER, headers={"Content-Type": "text/calendar", **headers})

    config = CaldavConfig(base_url="http://calendar.invalid", username="hub", password=SecretStr("x"))
    async with ApiClient("caldav", "http://calendar.invalid", transport=httpx.MockTransport(answer)) as api:
        slots = SlotMarkers(api, config, clock=lambda: datetime.now(UTC))
        return await slots._holder("/hub/room-slots/p35-u101-20261202T0900Z.ics")


@pytest.mark.parametrize("date", [
    "Tue, 01 Dec 2026 23:10:00 -0000",                                   # "zone unknown"
    "Tue, 01 Dec 2026 23:10:00",                                         # no zone at all
    "Tue, 01 Dec 2026 23:10:00 GMT, Tue, 01 Dec 2026 23:10:00 GMT",      # two Date headers folded
])
async def test_a_naive_server_date_is_read_as_utc(date: str) -> None:
    holder = await _holder({"Date": date, "Last-Modified": LAST_MODIFIED})
    assert holder is not None
    assert holder.booking_uid == "gr-1-abcdef"
    assert holder.age_seconds == pytest.approx(600.0)


async def test_a_naive_last_modified_with_an_aware_date() -> None:
    holder = await _holder({"Date": "Tue, 01 Dec 2026 23:10:00 GMT",
                            "Last-Modified": "Tue, 01 Dec 2026 23:05:00 -0000"})
    assert holder is not None and holder.age_seconds == pytest.approx(300.0)


async def test_a_naive_last_modified_without_a_date_uses_the_local_clock() -> None:
    holder = await _holder({"Last-Modified": "Tue, 01 Dec 2026 23:00:00 -0000"})
    expected = (datetime.now(UTC) - datetime(2026, 12, 1, 23, tzinfo=UTC)).total_seconds()
    assert holder is not None and holder.age_seconds == pytest.approx(expected, abs=5)
