"""Malformed peer bodies leave every client as the hub's error, never as a raw exception.

The chaos bench's fault proxy answers 200 with a body that is not the answer; a hostile or
broken peer can do worse. Each shape below is scripted with ``httpx.MockTransport``:
through :func:`hub.http.parse_json`, :meth:`ApiClient.json` (idempotent: fetched again;
POST: sent once), error bodies (``_detail``), NDJSON streams and every connector parse site.
A body that IS JSON but does not fit a connector's models is ``InvalidInput`` at every
model parse site (:func:`hub.http.parse_model`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.dfo import DfoConfig, DfoHr
from connectors.n5ws.config import N5wsConfig
from connectors.n5ws.session import N5wsSession
from connectors.nettskjema.client import NettskjemaForms
from connectors.nettskjema.config import NettskjemaConfig
from connectors.rt.config import RtConfig
from connectors.rt.rest import RtRest
from connectors.topdesk.config import TopdeskConfig
from connectors.topdesk.rest import TopdeskRest
from hub.errors import HubError, InvalidInput, MalformedResponse, PermanentError, TransientError
from hub.http import ApiClient, RetryPolicy, parse_json

FAST = RetryPolicy(max_attempts=3, max_total_seconds=5, initial_wait=0.01, max_wait=0.05)

MALFORMED: dict[str, bytes] = {
    "truncated": b'{"ansatt": [{"id": "1001", "fornavn": "Ka',
    "html proxy page": b"<html><head><title>502 Proxy Error</title></head><body>Upstream</body>",
    "nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "nested objects 100000 deep": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "invalid utf-8": b'{"name": "\xff\xfe\xfa"}',
    "empty": b"",
}
SHAPES = pytest.mark.parametrize("body", list(MALFORMED.values()), ids=list(MALFORMED))


def answering(body: bytes, status: int = 200, *, then: Any = None,
              content_type: str = "application/json") -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """Answer ``body`` (first call, or always if ``then`` is None), then JSON ``then``."""
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if then is not None and len(calls) > 1:
            return httpx.Response(200, json=then)
        return httpx.Response(status, content=body, headers={"Content-Type": content_type})

    return httpx.MockTransport(handler), calls


def assert_malformed(error: BaseException) -> None:
    assert isinstance(error, MalformedResponse)
    assert isinstance(error, TransientError) and error.kind == "transient"
    assert "not valid JSON" in error.message
    assert "proxy or the peer failing" in error.hint and "Correct the data" not in error.hint


@SHAPES
def test_parse_json_turns_every_decode_failure_into_a_hub_error(body: bytes) -> None:
    response = httpx.Response(200, content=body, request=httpx.Request("GET", "http://peer/x"))
    with pytest.raises(HubError) as info:
        parse_json(response, "peer")
    assert_malformed(info.value)
    assert info.value.system == "peer"


@SHAPES
async def test_an_idempotent_read_is_fetched_again_under_the_policy(body: bytes) -> None:
    transport, calls = answering(body, then={"ok": True})
    async with ApiClient("peer", "http://peer", policy=FAST, transport=transport) as client:
        assert await client.json("GET", "/thing") == {"ok": True}
    assert len(calls) == 2


@SHAPES
async def test_a_read_that_stays_garbled_is_transient_after_bounded_attempts(body: bytes) -> None:
    transport, calls = answering(body)
    async with ApiClient("peer", "http://peer", policy=FAST, transport=transport) as client:
        with pytest.raises(HubError) as info:
            await client.json("GET", "/thing")
    assert_malformed(info.value)
    assert len(calls) == FAST.max_attempts


@SHAPES
async def test_a_post_with_a_garbled_answer_is_not_sent_again(body: bytes) -> None:
    """The write may be committed: the step-level retry looks the record up first."""
    transport, calls = answering(body, then={"id": 1})
    async with ApiClient("peer", "http://peer", policy=FAST, transport=transport) as client:
        with pytest.raises(HubError) as info:
            await client.json("POST", "/ticket", json={"Subject": "x"})
    assert_malformed(info.value)
    assert len(calls) == 1


@SHAPES
@pytest.mark.parametrize("status,error", [(400, InvalidInput), (500, PermanentError), (503, TransientError)])
async def test_an_error_status_with_a_garbled_body_keeps_its_mapping(body: bytes, status: int,
                                                                     error: type[HubError]) -> None:
    transport, _ = answering(body, status, content_type="text/html")
    async with ApiClient("peer", "http://peer", policy=FAST, transport=transport) as client:
        with pytest.raises(HubError) as info:
            await client.request("POST", "/thing")
    assert type(info.value) is error
    assert info.value.status == status
    assert len(str(info.value)) < 1000


@pytest.mark.parametrize("line", [b"[" * 100_000, b'{"submissionId": 1', b"<html>Proxy Error</html>"],
                         ids=["deep", "truncated", "html"])
async def test_a_garbled_ndjson_line_is_a_hub_error(line: bytes) -> None:
    transport, _ = answering(b'{"submissionId": 1}\n' + line + b"\n", content_type="application/x-ndjson")
    seen: list[Any] = []
    async with ApiClient("peer", "http://peer", policy=FAST, transport=transport) as client:
        with pytest.raises(HubError) as info:
            async for item in client.ndjson("/stream"):
                seen.append(item)
    assert seen == [{"submissionId": 1}]
    assert_malformed(info.value)


# -- every connector parse site ---------------------------------------------------------------

Call = Callable[[httpx.MockTransport], Awaitable[Any]]


async def _dfo_employee(transport: httpx.MockTransport) -> Any:
    async with DfoHr(DfoConfig(base_url="http://dfo.invalid/api", api_key=SecretStr("k"), max_attempts=1),
                     transport=transport) as hr:
        return await hr.get_ansatt("1001")


async def _dfo_employee_list(transport: httpx.MockTransport) -> Any:
    async with DfoHr(DfoConfig(base_url="http://dfo.invalid/api", api_key=SecretStr("k"), max_attempts=1),
                     transport=transport) as hr:
        return [e async for e in hr.list_employees()]


async def _n5ws_get_with_etag(transport: httpx.MockTransport) -> Any:
    from connectors.n5ws.models import Resource

    session = N5wsSession(N5wsConfig(base_url="http://n5ws.invalid", username="u", password=SecretStr("p"),
                                     max_attempts=1), transport=transport)
    try:
        return await session.get_with_etag("http://n5ws.invalid/api/x", Resource)
    finally:
        await session.aclose()


async def _rt_get(transport: httpx.MockTransport) -> Any:
    rest = RtRest(RtConfig(base_url="http://rt.invalid", token=SecretStr("1-2-3"), max_attempts=1),
                  transport=transport)
    try:
        return await rest.get("ticket/1")
    finally:
        await rest.aclose()


async def _rt_create_once(transport: httpx.MockTransport) -> Any:
    rest = RtRest(RtConfig(base_url="http://rt.invalid", token=SecretStr("1-2-3"), max_attempts=1),
                  transport=transport)
    try:
        return await rest.create_once("ticket", {"Subject": "x"})
    finally:
        await rest.aclose()


async def _topdesk_get_with_etag(transport: httpx.MockTransport) -> Any:
    rest = TopdeskRest(TopdeskConfig(base_url="http://td.invalid/tas/api", username="hub",
                                     app_password=SecretStr("p"), max_attempts=1), transport=transport)
    try:
        return await rest.get_with_etag("incidents/id/1")
    finally:
        await rest.aclose()


def _nettskjema_config() -> NettskjemaConfig:
    return NettskjemaConfig(base_url="http://ns.invalid/api/v3", token_url="http://ns.invalid/oauth2/token",
                            client_id="hub", client_secret=SecretStr("s"), max_attempts=1)


async def _nettskjema_forms(transport: httpx.MockTransport) -> Any:
    forms = NettskjemaForms(_nettskjema_config(), transport=transport)
    forms.auth._token = "t"  # a cached token: this call reaches the API, not the token endpoint
    forms.auth._refresh_at = float("inf")
    try:
        return await forms.list_forms()
    finally:
        await forms.aclose()


async def _nettskjema_token(transport: httpx.MockTransport) -> Any:
    forms = NettskjemaForms(_nettskjema_config(), transport=transport)
    try:
        return await forms.list_forms()  # the first request fetches a token: its answer is garbled
    finally:
        await forms.aclose()


CONNECTOR_CALLS: dict[str, Call] = {
    "dfo get_ansatt (_fetch)": _dfo_employee,
    "dfo list_employees": _dfo_employee_list,
    "n5ws get_with_etag (_body)": _n5ws_get_with_etag,
    "rt get (_decode)": _rt_get,
    "rt create_once (_decode)": _rt_create_once,
    "topdesk get_with_etag (_decode)": _topdesk_get_with_etag,
    "nettskjema list_forms (_json)": _nettskjema_forms,
    "nettskjema token endpoint (auth)": _nettskjema_token,
}


@SHAPES
@pytest.mark.parametrize("call", list(CONNECTOR_CALLS.values()), ids=list(CONNECTOR_CALLS))
async def test_every_connector_turns_a_garbled_200_into_a_transient_hub_error(call: Call, body: bytes) -> None:
    transport, calls = answering(body)
    with pytest.raises(HubError) as info:
        await call(transport)
    assert_malformed(info.value)
    assert len(calls) == 1


@SHAPES
async def test_dfo_404_with_a_garbled_body_is_the_gateway_not_a_crash(body: bytes) -> None:
    """A 404 without DFØ's own ``faultText`` came from the gateway (see connectors.dfo)."""
    from hub.errors import ConfigError

    transport, _ = answering(body, 404)
    with pytest.raises(ConfigError, match="API gateway"):
        await _dfo_employee(transport)


# -- JSON that does not fit a connector's models: InvalidInput, at every model parse site --------

SECRET = "hemmelig-verdi-42"  # a value from the peer: never echoed in a message
UNFIT = {"id": {"not": SECRET}}  # JSON, an object, but its id is no id


def json_peer(body: Any) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=body)

    return httpx.MockTransport(handler), calls


def _rt(transport: httpx.MockTransport) -> Any:
    from connectors.rt import RtTicketing

    return RtTicketing(RtConfig(base_url="http://rt.invalid", token=SecretStr("1-2-3"), max_attempts=1),
                       transport=transport)


def _topdesk(transport: httpx.MockTransport) -> Any:
    from connectors.topdesk import TopdeskTicketing

    return TopdeskTicketing(TopdeskConfig(base_url="http://td.invalid/tas/api", username="hub",
                                          app_password=SecretStr("p"), max_attempts=1), transport=transport)


async def _unfit_dfo(transport: httpx.MockTransport) -> Any:
    return await _dfo_employee(transport)


async def _unfit_n5ws(transport: httpx.MockTransport) -> Any:
    from connectors.n5ws.models import Resource

    session = N5wsSession(N5wsConfig(base_url="http://n5ws.invalid", username="u", password=SecretStr("p"),
                                     max_attempts=1), transport=transport)
    try:
        return await session.get("http://n5ws.invalid/api/x", Resource)
    finally:
        await session.aclose()


async def _unfit_rt_ticket(transport: httpx.MockTransport) -> Any:
    async with _rt(transport) as rt:
        return await rt.get_ticket("1")


async def _unfit_rt_search(transport: httpx.MockTransport) -> Any:
    async with _rt(transport) as rt:
        return await rt.find_tickets("dfo:1")


async def _unfit_rt_asset(transport: httpx.MockTransport) -> Any:
    from connectors.rt.assets import RtAssets

    rest = RtRest(RtConfig(base_url="http://rt.invalid", token=SecretStr("1-2-3"), max_attempts=1),
                  transport=transport)
    try:
        return await RtAssets(rest).get("1", "Laptops")
    finally:
        await rest.aclose()


async def _unfit_topdesk_incident(transport: httpx.MockTransport) -> Any:
    async with _topdesk(transport) as topdesk:
        return await topdesk.get_ticket("8f7a5e0c-1a2b-4c3d-9e8f-0a1b2c3d4e5f")


async def _unfit_topdesk_search(transport: httpx.MockTransport) -> Any:
    async with _topdesk(transport) as topdesk:
        return await topdesk.find_tickets("dfo:1")


async def _unfit_topdesk_person(transport: httpx.MockTransport) -> Any:
    rest = TopdeskRest(TopdeskConfig(base_url="http://td.invalid/tas/api", username="hub",
                                     app_password=SecretStr("p"), max_attempts=1), transport=transport)
    try:
        return await rest.find_person("leder@oslomet.test")
    finally:
        await rest.aclose()


async def _unfit_nettskjema(transport: httpx.MockTransport) -> Any:
    return await _nettskjema_forms(transport)


UNFIT_CALLS: dict[str, tuple[Call, Any]] = {
    "dfo get_ansatt": (_unfit_dfo, {"ansatt": [{"id": "1001", "fdato": SECRET}]}),
    "n5ws get": (_unfit_n5ws, {"systemID": [SECRET]}),
    "rt get_ticket": (_unfit_rt_ticket, UNFIT),
    "rt find_tickets": (_unfit_rt_search, {"items": [UNFIT], "page": 1, "pages": 1}),
    "rt asset get": (_unfit_rt_asset, {"items": [UNFIT], "page": 1, "pages": 1}),
    "topdesk get_ticket": (_unfit_topdesk_incident, UNFIT),
    "topdesk find_tickets": (_unfit_topdesk_search, [UNFIT]),
    "topdesk find_person": (_unfit_topdesk_person, [UNFIT]),
    "nettskjema list_forms": (_unfit_nettskjema, [{"formId": SECRET}]),
}


@pytest.mark.parametrize("call,body", list(UNFIT_CALLS.values()), ids=list(UNFIT_CALLS))
async def test_json_that_does_not_fit_the_models_is_invalid_input(call: Call, body: Any) -> None:
    """Bad data, not a wire fault: InvalidInput naming the field, never a raw ValidationError."""
    from pydantic import ValidationError

    transport, calls = json_peer(body)
    with pytest.raises(HubError) as info:
        await call(transport)
    error = info.value
    assert type(error) is InvalidInput and error.kind == "invalid_input", repr(error)
    field = {"dfo": "fdato", "n5ws": "systemID", "nettskjema": "formId"}.get(str(error.system), "id")
    assert "cannot read" in error.message and f"{field}:" in error.message, error.message
    assert SECRET not in str(error) and SECRET not in repr(error)
    assert not isinstance(error.__cause__, ValidationError)
    assert len(calls) == 1  # not fetched again: retrying will not change the data


WRONG_SHAPE_CALLS: dict[str, tuple[Call, Any]] = {
    "dfo get_ansatt (no 'ansatt' at all)": (_unfit_dfo, {"message": "hello"}),
    "n5ws get (a list, not an object)": (_unfit_n5ws, [1, 2]),
    "n5ws get_with_etag (a string, not an object)": (_n5ws_get_with_etag, "ok"),
    "rt find_tickets (no items)": (_unfit_rt_search, {"message": "hello"}),
    "rt asset search (a list, not a collection)": (_unfit_rt_asset, [UNFIT]),
    "topdesk find_tickets (an object, not a list)": (_unfit_topdesk_search, {"message": "hello"}),
}


@pytest.mark.parametrize("call,body", list(WRONG_SHAPE_CALLS.values()), ids=list(WRONG_SHAPE_CALLS))
async def test_json_that_is_not_the_answer_asked_for_is_a_garbled_answer_and_transient(call: Call, body: Any) -> None:
    """Valid JSON of the wrong kind altogether (a list for an object, an object without the
    collection's items) is the wire or a proxy failing, not bad data and not the hub's
    configuration: retried like a body that is not JSON. (The chaos bench's generated bodies
    made these permanent dead letters that told the operator to check base_url.)"""
    transport, _ = json_peer(body)
    with pytest.raises(HubError) as info:
        await call(transport)
    error = info.value
    assert type(error) is MalformedResponse and error.kind == "transient", repr(error)
    assert "retried" in error.hint


def test_a_slot_report_that_is_not_webdav_xml_is_a_garbled_answer() -> None:
    from connectors.caldav.dav import read_multistatus

    with pytest.raises(MalformedResponse) as info:
        read_multistatus(b"<html>502 Proxy Error", "/hub/room-slots/")
    assert info.value.kind == "transient"
