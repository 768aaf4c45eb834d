"""The HTTP policy: which failures are retried, how long, and what leaves the client.

These tests inject an ``httpx.MockTransport`` (no patching) to script exact server
behaviour; the connector suites repeat the important cases against real sandboxes.
"""

import json
import time

import httpx
import pytest

from hub.errors import ConfigError, Conflict, InvalidInput, NotFound, PermanentError, TransientError
from hub.http import ApiClient, RetryPolicy, parse_retry_after, translate_exception

FAST = RetryPolicy(max_attempts=4, max_total_seconds=5, initial_wait=0.01, max_wait=0.05)


def scripted(*responses: int | Exception, headers: dict[str, str] | None = None):
    calls: list[httpx.Request] = []
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return httpx.Response(item, json={"message": f"status {item}"}, headers=headers or {})

    return httpx.MockTransport(handler), calls


@pytest.mark.parametrize("status", [429, 502, 503, 504])
async def test_retryable_statuses_are_retried(status: int) -> None:
    transport, calls = scripted(status, status, 200)
    async with ApiClient("x", "http://test", policy=FAST, transport=transport) as client:
        response = await client.request("GET", "/thing")
    assert response.status_code == 200
    assert len(calls) == 3


@pytest.mark.parametrize("status,error", [(400, InvalidInput), (401, ConfigError), (403, ConfigError),
                                          (404, NotFound), (409, Conflict), (412, Conflict),
                                          (422, InvalidInput), (500, PermanentError)])
async def test_other_errors_are_never_retried(status: int, error: type[Exception]) -> None:
    transport, calls = scripted(status, 200)
    async with ApiClient("x", "http://test", policy=FAST, transport=transport) as client:
        with pytest.raises(error) as info:
            await client.request("POST", "/thing")
    assert len(calls) == 1
    assert info.value.status == status  # type: ignore[attr-defined]
    assert f"status {status}" in str(info.value)


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PROPFIND", "REPORT"])
async def test_a_500_to_a_safe_method_is_asked_again(method: str) -> None:
    """A safe method writes nothing, so a 500 (Radicale's answer to a PROPFIND racing a
    delete in the same collection) is asked again under the policy."""
    transport, calls = scripted(500, 500, 200)
    async with ApiClient("x", "http://test", policy=FAST, transport=transport) as client:
        response = await client.request(method, "/thing")
    assert response.status_code == 200
    assert [call.method for call in calls] == [method] * 3


async def test_a_500_that_stays_is_permanent_once_the_attempts_are_spent() -> None:
    transport, calls = scripted(500)
    async with ApiClient("x", "http://test", policy=FAST, transport=transport) as client:
        with pytest.raises(PermanentError) as info:
            await client.request("GET", "/thing")
    assert len(calls) == FAST.max_attempts
    assert info.value.status == 500 and "internal error" in info.value.hint


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "MKCOL", "MOVE"])
async def test_a_500_to_a_write_is_never_sent_again(method: str) -> None:
    """The write may be committed before the server failed; the caller's look-up decides."""
    transport, calls = scripted(500, 200)
    async with ApiClient("x", "http://test", policy=FAST, transport=transport) as client:
        with pytest.raises(PermanentError):
            await client.request(method, "/thing")
    assert len(calls) == 1


@pytest.mark.parametrize("status", [501, 505])
async def test_other_5xx_to_a_safe_method_are_not_asked_again(status: int) -> None:
    transport, calls = scripted(status, 200)
    async with ApiClient("x", "http://test", policy=FAST, transport=transport) as client:
        with pytest.raises(PermanentError):
            await client.request("GET", "/thing")
    assert len(calls) == 1


@pytest.mark.parametrize("way", ["json", "stream"])
async def test_a_500_to_a_safe_method_is_asked_again_by_every_way_of_reading(way: str) -> None:
    transport, calls = scripted(500, 200)
    async with ApiClient("x", "http://test", policy=FAST, transport=transport) as client:
        if way == "json":
            assert await client.json("GET", "/thing") == {"message": "status 200"}
        else:
            async with client.stream("GET", "/thing") as response:
                assert response.status_code == 200
    assert len(calls) == 2


async def test_connect_errors_and_timeouts_are_transient_and_bounded() -> None:
    transport, calls = scripted(httpx.ConnectError("refused"))
    async with ApiClient("x", "http://test", policy=FAST, transport=transport) as client:
        with pytest.raises(TransientError) as info:
            await client.request("GET", "/thing")
    assert len(calls) == FAST.max_attempts
    assert "cannot reach x" in str(info.value)
    assert not isinstance(info.value, httpx.HTTPError)


async def test_retry_after_is_honoured() -> None:
    transport, calls = scripted(503, 200, headers={"Retry-After": "1"})
    async with ApiClient("x", "http://test", policy=FAST, transport=transport) as client:
        started = time.monotonic()
        await client.request("GET", "/thing")
    assert time.monotonic() - started >= 0.95
    assert len(calls) == 2


async def test_retry_after_beyond_budget_gives_up_at_once() -> None:
    transport, calls = scripted(429, headers={"Retry-After": "3600"})
    async with ApiClient("x", "http://test", policy=FAST, transport=transport) as client:
        started = time.monotonic()
        with pytest.raises(TransientError):
            await client.request("GET", "/thing")
    assert time.monotonic() - started < 1
    assert len(calls) == 1


async def test_ok_statuses_are_returned() -> None:
    transport, _ = scripted(404)
    async with ApiClient("x", "http://test", policy=FAST, transport=transport) as client:
        response = await client.request("GET", "/thing", ok={404})
    assert response.status_code == 404


def test_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("garbage") is None
    assert parse_retry_after("7") == 7.0


@pytest.mark.parametrize("exc", [
    httpx.ConnectError("x"), httpx.ReadTimeout("x"), httpx.ConnectTimeout("x"), httpx.PoolTimeout("x"),
    httpx.WriteTimeout("x"), httpx.ReadError("x"), httpx.WriteError("x"), httpx.RemoteProtocolError("x"),
    httpx.LocalProtocolError("x"), httpx.UnsupportedProtocol("x"), httpx.ProxyError("x"),
    httpx.DecodingError("x"), httpx.TooManyRedirects("x"), httpx.InvalidURL("x"),
    httpx.StreamConsumed(), httpx.ResponseNotRead(), httpx.RequestNotRead(), httpx.StreamClosed(),
    ValueError("not json"), RecursionError("maximum recursion depth exceeded while decoding a JSON array"),
    json.JSONDecodeError("Expecting value", "<html>", 0),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
])
def test_every_foreign_exception_is_translated(exc: Exception) -> None:
    from hub.errors import HubError

    assert isinstance(translate_exception("x", exc), HubError)


def test_mapping_covers_every_httpx_exception_class() -> None:
    """If httpx grows a new exception class, this test names it."""
    from hub.errors import HubError

    classes = [obj for obj in vars(httpx).values()
               if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__.startswith("httpx")]
    assert len(classes) > 20
    for cls in classes:
        if cls is httpx.HTTPStatusError:
            continue
        try:
            instance = cls("x")
        except TypeError:
            continue
        assert isinstance(translate_exception("x", instance), HubError), cls


@pytest.mark.parametrize("exc", [
    RecursionError("maximum recursion depth exceeded while decoding a JSON array"),
    json.JSONDecodeError("Expecting value", "<html>", 0),
    UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
])
def test_a_body_that_does_not_decode_is_a_malformed_response(exc: Exception) -> None:
    """Not bad data but a peer or proxy failing: transient, with advice saying so."""
    from hub.errors import MalformedResponse

    error = translate_exception("x", exc)
    assert isinstance(error, MalformedResponse) and isinstance(error, TransientError)
    assert error.kind == "transient"
    assert "not valid JSON" in error.message and "retried" in error.hint


def test_every_class_of_the_error_tree_has_a_kind_and_its_own_hint() -> None:
    """A class added to hub.errors without a ledger kind or a hint is named here."""
    import hub.errors

    classes = [getattr(hub.errors, name) for name in hub.errors.__all__]
    assert hub.errors.MalformedResponse in classes
    for cls in classes:
        error = cls("m")
        assert error.kind != "error" or cls is hub.errors.HubError, cls
        assert cls.__name__ in hub.errors.__doc__, cls
        if cls is not hub.errors.HubError:
            assert cls.default_hint != cls.__mro__[1].default_hint, cls


def test_an_error_declared_outside_the_tree_has_the_kind_of_its_base() -> None:
    """The full chaos run left 19 laptop orders as dead letters of kind ``error`` because
    ``SlotsUnavailable`` (a TransientError declared in hub.flowkit) had no kind of its own, so
    the automatic retry of transient dead letters never took them."""
    from hub.flowkit import ItemBusy, SlotsUnavailable

    assert SlotsUnavailable("no slot").kind == "transient" and ItemBusy("held").kind == "transient"

    class VendorQuirk(InvalidInput):
        pass

    assert VendorQuirk("odd").kind == "invalid_input"


# -- a body that IS JSON but does not fit the models --------------------------------------------

def test_parse_model_turns_a_validation_error_into_invalid_input() -> None:
    from pydantic import BaseModel

    from hub.http import parse_model

    class Record(BaseModel):
        id: int
        name: str

    assert parse_model(Record, {"id": 1, "name": "x"}, system="peer").id == 1
    with pytest.raises(InvalidInput) as info:
        parse_model(Record, {"id": "hemmelig-verdi-42"}, system="peer", what="record 7")
    error = info.value
    assert error.kind == "invalid_input" and error.system == "peer"
    assert "record 7" in error.message and "id:" in error.message and "name: Field required" in error.message
    assert "hemmelig-verdi-42" not in str(error)
    assert error.__cause__ is None and error.__suppress_context__  # its text would repeat the values
    assert "replay" in error.hint
    with pytest.raises(InvalidInput, match="a Record this connector cannot read") as named:
        parse_model(Record, ["not", "an", "object"], system="peer", hint="Ask the peer.")
    assert named.value.hint == "Ask the peer."


def test_parse_model_lists_a_few_problems_and_counts_the_rest() -> None:
    from pydantic import BaseModel

    from hub.http import parse_model

    class Wide(BaseModel):
        a: int
        b: int
        c: int
        d: int
        e: int
        f: int
        g: int

    with pytest.raises(InvalidInput, match="and 2 more"):
        parse_model(Wide, {}, system="peer")


def test_no_connector_validates_a_peer_body_outside_parse_model() -> None:
    """A raw ``model_validate`` on a peer's body would let a ValidationError escape."""
    from pathlib import Path

    import connectors

    root = Path(connectors.__file__).parent
    offenders = [f"{path.relative_to(root)}:{n}" for path in sorted(root.rglob("*.py"))
                 for n, line in enumerate(path.read_text().splitlines(), 1)
                 if ".model_validate(" in line and path.name != "models.py"]
    assert offenders == []


# -- vendor error bodies: each connector's describe_error hook ----------------------------------

def _error(status: int, body: object, describe: object = None) -> str:
    from hub.http import translate_status

    response = httpx.Response(status, json=body, request=httpx.Request("POST", "http://peer/thing"))
    return translate_status("peer", response, describe).message  # type: ignore[arg-type]


def test_the_hub_reads_only_generic_error_bodies() -> None:
    """Vendor shapes are the connectors' (their describe_error); the hub knows none."""
    assert _error(400, {"message": "bad"}).endswith(": bad")
    assert _error(400, {"detail": "problem+json"}).endswith(": problem+json")
    feil = {"feil": {"beskrivelse": "Ugyldig saksstatus"}}
    assert _error(400, feil).endswith(': {"feil": {"beskrivelse": "Ugyldig saksstatus"}}')  # the body, unread
    assert _error(400, feil, lambda r: r.json()["feil"]["beskrivelse"]).endswith(": Ugyldig saksstatus")


def test_a_hook_that_knows_nothing_or_fails_leaves_the_generic_reading_and_the_mapping() -> None:
    def broken(response: httpx.Response) -> str | None:
        raise KeyError("not this vendor's shape")

    assert _error(400, {"message": "bad"}, lambda r: None).endswith(": bad")
    assert _error(409, {"message": "bad"}, broken).endswith(": bad")
    assert "→ 503" in _error(503, [1, 2], broken)


@pytest.mark.parametrize("method", ["request", "stream"])
async def test_api_client_passes_its_hook_to_every_error(method: str) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(422, json={"fault": {"text": "vendor no"}}))
    async with ApiClient("x", "http://test", policy=FAST, transport=transport,
                         describe_error=lambda r: r.json()["fault"]["text"]) as client:
        with pytest.raises(InvalidInput, match="vendor no"):
            if method == "request":
                await client.request("POST", "/thing")
            else:
                async with client.stream("GET", "/thing"):
                    pass


def _answering(status: int, body: object) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body))


async def test_each_connector_reads_its_vendors_error_body() -> None:
    from pydantic import SecretStr

    from connectors.dfo import DfoConfig, DfoHr
    from connectors.n5ws.config import N5wsConfig
    from connectors.n5ws.models import Resource
    from connectors.n5ws.session import N5wsSession
    from connectors.rt.config import RtConfig
    from connectors.rt.rest import RtRest
    from connectors.topdesk.config import TopdeskConfig
    from connectors.topdesk.rest import TopdeskRest

    n5ws_config = N5wsConfig(base_url="http://core", username="u", password=SecretStr("p"), max_attempts=1)
    session = N5wsSession(n5ws_config, transport=_answering(400, {"feil": {"kode": "400",
                                                                          "beskrivelse": "Ugyldig saksstatus"}}))
    with pytest.raises(InvalidInput) as n5ws:
        await session.get("http://core/api/x", Resource)
    await session.aclose()
    assert n5ws.value.message.endswith("→ 400: Ugyldig saksstatus")

    td = TopdeskConfig(base_url="http://td.invalid/tas/api", username="hub", app_password=SecretStr("p"),
                       max_attempts=1)
    for status, body, error in [(400, [{"message": "briefDescription too long"}, {"message": "no caller"}],
                                 InvalidInput),
                                (404, {"errors": [{"message": "Asset not found"}]}, NotFound)]:
        rest = TopdeskRest(td, transport=_answering(status, body))
        with pytest.raises(error) as info:
            await rest.get("incidents")
        await rest.aclose()
        assert info.value.message.endswith(": briefDescription too long; no caller" if status == 400
                                           else ": Asset not found")

    rt = RtRest(RtConfig(base_url="http://rt.invalid", token=SecretStr("1-2-3"), max_attempts=1),
                transport=_answering(400, {"message": "Invalid Queue"}))
    with pytest.raises(InvalidInput) as rt_error:
        await rt.post("ticket", {"Queue": "nope"})
    await rt.aclose()
    assert rt_error.value.message.endswith("→ 400: Invalid Queue")

    async with DfoHr(DfoConfig(base_url="http://dfo.invalid/api", api_key=SecretStr("k"), max_attempts=1),
                     transport=_answering(400, {"standard": {"faultText": "Ugyldig ansattnummer"}})) as hr:
        with pytest.raises(InvalidInput) as dfo:
            await hr.get_employee("1001")
    assert dfo.value.message.endswith("→ 400: Ugyldig ansattnummer")
