"""Every failure leaves the connector as the hub's error tree, never as a raw exception."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.caldav import CaldavCalendar, CaldavConfig
from hub.errors import ConfigError, MalformedResponse, NotFound, PermanentError, TransientError
from sandbox.procs import Proc, free_port
from tests.connectors.caldav.conftest import MakeCalendar, at


async def test_wrong_password_is_a_config_error(make_calendar: MakeCalendar) -> None:
    calendar = make_calendar(password=SecretStr("wrong"))
    try:
        with pytest.raises(ConfigError, match="401"):
            await calendar.list_rooms()
        health = await calendar.health()
        assert not health.ok and "401" in health.detail and "wrong" not in health.detail
    finally:
        await calendar.aclose()


async def test_unknown_calendar_home_is_not_found(make_calendar: MakeCalendar) -> None:
    calendar = make_calendar(calendar_home="/hub/no-such-folder/")
    try:
        with pytest.raises(NotFound):
            await calendar.list_rooms()
    finally:
        await calendar.aclose()


async def test_server_down_is_transient_after_bounded_retries() -> None:
    calendar = CaldavCalendar(CaldavConfig(base_url=f"http://127.0.0.1:{free_port()}", username="hub",
                                           password=SecretStr("x"), max_attempts=3, max_retry_seconds=2.0))
    started = time.monotonic()
    try:
        with pytest.raises(TransientError, match="cannot reach caldav"):
            await calendar.find_booking("gr-1-aaaaaa")
        assert not (await calendar.health()).ok
    finally:
        await calendar.aclose()
    assert time.monotonic() - started < 5


def _answering(status: int, body: bytes, content_type: str = "application/xml") -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, content=body,
                                                              headers={"Content-Type": content_type}))


async def test_a_page_where_webdav_xml_was_expected_is_a_malformed_response() -> None:
    """Parsing only (MockTransport): an HTML page (a proxy's, or an answer cut short) where
    WebDAV XML was expected is a fault on the wire, retried like a JSON body that is not JSON;
    the chaos bench saw it fail whole room-booking runs as a permanent error."""
    config = CaldavConfig(base_url="http://calendar.invalid", username="hub", password=SecretStr("x"))
    calendar = CaldavCalendar(config, transport=_answering(207, b"<html><body>Proxy login</body>"))
    try:
        with pytest.raises(MalformedResponse, match="did not answer WebDAV XML") as raised:
            await calendar.list_rooms()
        assert isinstance(raised.value, TransientError) and raised.value.kind == "transient"
    finally:
        await calendar.aclose()


async def test_an_overloaded_server_is_retried_then_transient() -> None:
    calls: list[str] = []

    def overloaded(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(503, content=b"busy", headers={"Retry-After": "0"})

    config = CaldavConfig(base_url="http://calendar.invalid", username="hub", password=SecretStr("x"),
                          max_attempts=3, max_retry_seconds=2.0)
    calendar = CaldavCalendar(config, transport=httpx.MockTransport(overloaded))
    try:
        with pytest.raises(TransientError, match="503"):
            await calendar.list_rooms()
    finally:
        await calendar.aclose()
    assert calls == ["PROPFIND"] * 3


async def test_a_500_to_a_read_is_asked_again_and_the_booking_lands_once(
        make_calendar: MakeCalendar, radicale: Proc, tmp_path: Path, day: date) -> None:
    """Radicale answers 500 to a PROPFIND that races a delete in the same collection (a
    ``FileNotFoundError`` in its file storage; the backlog bench lost a room request to it).
    A read writes nothing, so the connector asks again; a 500 to the PUT is not re-sent."""
    from sandbox.common import control_headers
    from sandbox.faultproxy import start_fault_proxy
    from tests.connectors.caldav.test_booking import _new

    proxy: Any = start_fault_proxy(radicale.url, tmp_path)
    control = control_headers(proxy.extra["control_token"])
    calendar = make_calendar(base_url=proxy.url, max_retry_seconds=10.0)
    try:
        for method in ("PROPFIND", "REPORT"):
            armed = httpx.post(f"{proxy.url}/_sandbox/faults", headers=control,
                               json={"path": "/", "method": method, "status": 500, "count": 1})
            assert armed.status_code == 201, armed.text
        booking = await calendar.book(_new("gr-9500-aaaaaa", "P35-U101", at(day, "09:00"), at(day, "10:00")))
        assert booking.external_ref == "gr-9500-aaaaaa"
        stats = httpx.get(f"{proxy.url}/_sandbox/faults/stats", headers=control).json()
        assert stats["statuses"] == {"500": 2}, "both reads met their 500 and were asked again"

        armed = httpx.post(f"{proxy.url}/_sandbox/faults", headers=control,
                           json={"path": "/", "method": "PUT", "status": 500, "count": 1})
        assert armed.status_code == 201, armed.text
        with pytest.raises(PermanentError, match="500"):
            await calendar.book(_new("gr-9500-bbbbbb", "P35-U101", at(day, "11:00"), at(day, "12:00")))
        assert httpx.get(f"{proxy.url}/_sandbox/faults", headers=control).json() == [], "the PUT was sent once"
        assert await calendar.find_booking("gr-9500-bbbbbb") is None
    finally:
        await calendar.aclose()
        proxy.stop()
