"""The intake's HTTP edge, in process (ASGI): size limit while reading, content type, methods,
Standard Webhooks signatures with rotation, and the webhook-id replay guard.

The dispatcher is a stand-in that records what it was handed; the ledger is a real SQLite one.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.intake import create_app
from hub.ledger import EventState, InboxEvent, Ledger
from hub.settings import OSLO, IntakeConfig
from hub.signing import SIGNATURE_HEADER, sign_headers

OLD = "whsec_" + base64.b64encode(b"old-intake-key-0123456789").decode()
NEW = "whsec_" + base64.b64encode(b"new-intake-key-0123456789").decode()
LIMIT = 4096


class RecordingDispatcher:
    def __init__(self) -> None:
        self.dispatched: list[str] = []

    async def dispatch(self, event: InboxEvent) -> str | None:
        self.dispatched.append(event.id)
        return None

    async def warm_up(self) -> None:
        pass

    async def sweep(self, older_than: timedelta) -> int:
        return 0

    async def aclose(self) -> None:
        pass


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", migrate=True)


@pytest.fixture
def config() -> IntakeConfig:
    return IntakeConfig.model_validate({"hmac_secrets": [NEW, OLD], "max_body_bytes": LIMIT,
                                        "sweep_interval": 3600})


@pytest.fixture
def dispatcher() -> RecordingDispatcher:
    return RecordingDispatcher()


@pytest.fixture
def app(ledger: Ledger, config: IntakeConfig, dispatcher: RecordingDispatcher) -> Any:
    return create_app(ledger, dispatcher, config)  # type: ignore[arg-type]


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://intake") as client:
        yield client


def body_of(employee_id: str = "10005", **extra: Any) -> bytes:
    return json.dumps({"id": employee_id, "uri": "dfo:ansatte", "gyldigEtter": "2026-12-01", **extra}).encode()


def signed(body: bytes, secret: str | list[str] = NEW, **kwargs: Any) -> dict[str, str]:
    return {"Content-Type": "application/json", **sign_headers(body, secret, **kwargs)}


# ---- the size limit, enforced while reading ---------------------------------------------

async def _call_streaming(app: Any, chunks: int, chunk_size: int,
                          headers: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """Send a body of ``chunks`` × ``chunk_size`` bytes; return (status, bytes the app consumed)."""
    consumed = 0
    sent = 0
    chunk = b"x" * chunk_size
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        nonlocal consumed, sent
        if sent >= chunks:
            await asyncio.sleep(3600)  # a client that stopped sending; never reached when refused early
        sent += 1
        consumed += chunk_size
        return {"type": "http.request", "body": chunk, "more_body": sent < chunks}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
             "scheme": "http", "path": "/events/hr", "raw_path": b"/events/hr", "query_string": b"",
             "root_path": "", "headers": [(b"content-type", b"application/json"), *headers],
             "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8700)}
    await asyncio.wait_for(app(scope, receive, send), timeout=30)
    return status[0], consumed


async def test_a_chunked_body_over_the_limit_is_refused_without_reading_it_all(app: Any) -> None:
    """32 MiB sent in 64 KiB chunks with no Content-Length (chunked): 413 after about the limit."""
    status, consumed = await _call_streaming(app, chunks=512, chunk_size=64 * 1024, headers=[])
    assert status == 413
    assert consumed <= LIMIT + 64 * 1024  # stopped at the first chunk past the limit, not 32 MiB


async def test_a_declared_content_length_over_the_limit_is_refused_before_reading(app: Any) -> None:
    status, consumed = await _call_streaming(app, chunks=512, chunk_size=64 * 1024,
                                             headers=[(b"content-length", str(512 * 64 * 1024).encode())])
    assert status == 413
    assert consumed == 0


async def test_a_body_at_the_limit_is_read(client: httpx.AsyncClient, ledger: Ledger) -> None:
    base = body_of()
    padded = base[:-1] + b', "pad": "' + b"x" * (LIMIT - len(base) - 11) + b'"}'
    assert len(padded) == LIMIT
    response = await client.post("/events/hr", content=padded, headers=signed(padded))
    assert response.status_code == 202, response.text
    assert len(ledger.events()) == 1


# ---- content type and methods ------------------------------------------------------------

@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded",
                                          "application/jsonp"])
async def test_a_body_that_is_not_declared_json_is_415(client: httpx.AsyncClient, ledger: Ledger,
                                                       content_type: str | None) -> None:
    body = body_of()
    headers = signed(body)
    del headers["Content-Type"]
    if content_type:
        headers["Content-Type"] = content_type
    response = await client.post("/events/hr", content=body, headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]
    assert ledger.events() == []


async def test_json_with_a_charset_is_accepted(client: httpx.AsyncClient) -> None:
    body = body_of()
    headers = {**signed(body), "Content-Type": "Application/JSON; charset=utf-8"}
    assert (await client.post("/events/hr", content=body, headers=headers)).status_code == 202


@pytest.mark.parametrize("method,path,allow", [
    ("GET", "/events/hr", "POST"), ("PUT", "/events/hr", "POST"), ("DELETE", "/events/hr", "POST"),
    ("POST", "/events/6f1c1c3e-7d5b-4a53-9a55-2d0c4f6f3b21", "GET"), ("POST", "/health", "GET"),
])
async def test_a_wrong_method_on_a_known_path_is_405_with_allow(client: httpx.AsyncClient, method: str,
                                                                path: str, allow: str) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert allow in response.headers["allow"]
    assert method in response.json()["error"]


async def test_an_unknown_path_is_still_404(client: httpx.AsyncClient) -> None:
    assert (await client.get("/events/not-an-event-id")).status_code == 404
    assert (await client.get("/nowhere")).status_code == 404


# ---- signatures ---------------------------------------------------------------------------

async def test_an_event_signed_with_either_active_secret_is_accepted(client: httpx.AsyncClient,
                                                                     ledger: Ledger) -> None:
    for employee_id, secret in (("10005", NEW), ("10006", OLD)):
        body = body_of(employee_id)
        response = await client.post("/events/hr", content=body, headers=signed(body, secret))
        assert response.status_code == 202, response.text
    assert {e.subject_id for e in ledger.events()} == {"10005", "10006"}


async def test_several_signatures_in_one_header_pass_if_one_matches(client: httpx.AsyncClient) -> None:
    body = body_of()
    retired = "whsec_" + base64.b64encode(b"retired-key-0123456789").decode()
    headers = signed(body, [retired, OLD])
    assert len(headers[SIGNATURE_HEADER].split()) == 2
    assert (await client.post("/events/hr", content=body, headers=headers)).status_code == 202


async def test_a_retired_secret_is_401(client: httpx.AsyncClient, ledger: Ledger) -> None:
    body = body_of()
    retired = "whsec_" + base64.b64encode(b"retired-key-0123456789").decode()
    response = await client.post("/events/hr", content=body, headers=signed(body, retired))
    assert response.status_code == 401
    assert "no webhook-signature matches" in response.json()["error"]
    assert ledger.events() == []


@pytest.mark.parametrize("age,word", [(timedelta(minutes=10), "old"), (timedelta(minutes=-10), "future")])
async def test_a_stale_or_future_timestamp_is_401_with_a_clear_message(
        client: httpx.AsyncClient, ledger: Ledger, age: timedelta, word: str) -> None:
    body = body_of()
    response = await client.post("/events/hr", content=body,
                                 headers=signed(body, timestamp=datetime.now(OSLO) - age))
    assert response.status_code == 401
    assert "webhook-timestamp" in response.json()["error"] and word in response.json()["error"]
    assert ledger.events() == []


async def test_unsigned_is_401_and_names_the_headers(client: httpx.AsyncClient, ledger: Ledger) -> None:
    response = await client.post("/events/hr", content=body_of(), headers={"Content-Type": "application/json"})
    assert response.status_code == 401
    assert "webhook-id" in response.json()["error"]
    assert ledger.events() == []


# ---- replays --------------------------------------------------------------------------------

async def test_a_webhook_id_reused_for_another_body_is_409_and_stores_nothing(
        client: httpx.AsyncClient, ledger: Ledger) -> None:
    first, second = body_of("10005"), body_of("10007")
    assert (await client.post("/events/hr", content=first, headers=signed(first, msg_id="msg_a"))).status_code == 202
    response = await client.post("/events/hr", content=second, headers=signed(second, msg_id="msg_a"))
    assert response.status_code == 409
    assert "webhook-id" in response.json()["error"]
    assert [e.subject_id for e in ledger.events()] == ["10005"]


async def test_a_resent_message_is_a_duplicate_not_a_second_event(client: httpx.AsyncClient,
                                                                  ledger: Ledger) -> None:
    body = body_of()
    first = await client.post("/events/hr", content=body, headers=signed(body, msg_id="msg_a"))
    again = await client.post("/events/hr", content=body, headers=signed(body, msg_id="msg_a"))
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["duplicate"] is True and again.json()["event_id"] == first.json()["event_id"]
    assert len(ledger.events()) == 1


async def test_an_id_with_and_without_its_leading_zero_is_one_event(client: httpx.AsyncClient,
                                                                    ledger: Ledger) -> None:
    padded, plain = body_of("05001234"), body_of("5001234")
    first = await client.post("/events/hr", content=padded, headers=signed(padded, msg_id="msg_padded"))
    again = await client.post("/events/hr", content=plain, headers=signed(plain, msg_id="msg_plain"))
    assert (first.status_code, again.status_code) == (202, 202), again.text
    assert again.json()["repeats"] == first.json()["event_id"]  # a new message for the one event (see below)
    assert [e.subject_id for e in ledger.events()] == ["5001234", "5001234"]


async def test_a_new_message_for_an_event_already_received_is_its_own_event_repeating_it(
        dispatcher: RecordingDispatcher, client: httpx.AsyncClient, ledger: Ledger, config: IntakeConfig) -> None:
    """DFØ's events carry no change id: a move and its reversal from the same day are the same
    (uri, id, gyldigEtter). A new message (webhook-id) for a known event is stored as an event
    of its own naming the first, and handed over; the same message again, also after a
    restart of the intake, is a duplicate."""
    body = body_of("10004", uri="dfo:stillinger")
    move = await client.post("/events/hr", content=body, headers=signed(body, msg_id="msg_move"))
    reversal = await client.post("/events/hr", content=body, headers=signed(body, msg_id="msg_reversal"))
    resent = await client.post("/events/hr", content=body, headers=signed(body, msg_id="msg_reversal"))

    assert (move.status_code, reversal.status_code, resent.status_code) == (202, 202, 200)
    first, repeat = move.json()["event_id"], reversal.json()["event_id"]
    assert repeat != first and reversal.json() == {"event_id": repeat, "duplicate": False, "repeats": first,
                                                   "state": EventState.RECEIVED}
    assert resent.json()["duplicate"] is True and resent.json()["event_id"] == repeat
    stored = ledger.get_event(repeat)
    assert stored is not None and (stored.kind, stored.subject_id, str(stored.valid_after)) == (
        "dfo:stillinger", "10004", "2026-12-01")
    assert stored.dedupe_key == "dfo:stillinger:10004:2026-12-01#msg_reversal" and stored.payload["repeats"] == first
    await asyncio.sleep(0.1)  # the hand-overs run in tasks of their own
    assert dispatcher.dispatched == [first, repeat]  # each handed over once

    restarted = create_app(ledger, RecordingDispatcher(), config)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(restarted), base_url="http://intake") as fresh:
        for msg_id, event_id in (("msg_move", first), ("msg_reversal", repeat)):
            again = await fresh.post("/events/hr", content=body, headers=signed(body, msg_id=msg_id))
            assert (again.status_code, again.json()["event_id"]) == (200, event_id)
    assert len(ledger.events()) == 2


async def test_a_refused_body_does_not_bind_its_webhook_id(client: httpx.AsyncClient) -> None:
    """A 400 stores nothing, so the sender may correct the body under the same message id."""
    bad = json.dumps({"id": "10005", "uri": "dfo:nope"}).encode()
    assert (await client.post("/events/hr", content=bad, headers=signed(bad, msg_id="msg_b"))).status_code == 400
    good = body_of()
    assert (await client.post("/events/hr", content=good, headers=signed(good, msg_id="msg_b"))).status_code == 202


async def test_the_replay_guard_survives_a_restart(ledger: Ledger, config: IntakeConfig) -> None:
    """A new intake process reads the ids received in the last minutes from the inbox."""
    first, second = body_of("10005"), body_of("10007")
    before = create_app(ledger, RecordingDispatcher(), config)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(before), base_url="http://intake") as client:
        assert (await client.post("/events/hr", content=first,
                                  headers=signed(first, msg_id="msg_c"))).status_code == 202
    after = create_app(ledger, RecordingDispatcher(), config)  # type: ignore[arg-type]
    async with after.router.lifespan_context(after):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(after), base_url="http://intake") as client:
            response = await client.post("/events/hr", content=second, headers=signed(second, msg_id="msg_c"))
    assert response.status_code == 409
    assert [e.subject_id for e in ledger.events()] == ["10005"]


async def test_the_answer_does_not_wait_for_prefect(ledger: Ledger, config: IntakeConfig) -> None:
    """202 as soon as the event is stored, while its dispatch is still waiting for Prefect; the
    pending dispatch is cancelled at shutdown and the event stays in the inbox for the sweeper."""
    started = asyncio.Event()

    class StuckDispatcher(RecordingDispatcher):
        async def dispatch(self, event: InboxEvent) -> str | None:
            started.set()
            await asyncio.sleep(3600)  # a Prefect that never answers
            return None

    app = create_app(ledger, StuckDispatcher(), config)  # type: ignore[arg-type]
    body = body_of()
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://intake") as client:
            response = await asyncio.wait_for(client.post("/events/hr", content=body, headers=signed(body)), 10)
            assert response.status_code == 202
            await asyncio.wait_for(started.wait(), 5)
    (event,) = ledger.events()
    assert event.state == EventState.RECEIVED and event.flow_run_id is None
