"""Every failure leaves the connector as the hub's error tree, never as a raw exception."""

from __future__ import annotations

import time

import httpx
import pytest
from pydantic import SecretStr

from connectors.caldav import CaldavCalendar, CaldavConfig
from hub.errors import ConfigError, MalformedResponse, NotFound, TransientError
from sandbox.procs import free_port
from tests.connectors.caldav.conftest import MakeCalendar


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
