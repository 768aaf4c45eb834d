"""The intake receiver on the real stack: refusals store nothing; acceptance is durable."""

from __future__ import annotations

import json
from datetime import date, timedelta

import httpx
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from hub.dispatch import Dispatcher
from hub.ledger import EventState, ItemState, Ledger
from hub.procs import free_port
from hub.settings import OSLO
from hub.signing import HEADER, sign
from hub.stack import Stack
from tests.e2e.conftest import wait_flow_run, wait_item

pytestmark = pytest.mark.e2e


def _post(stack: Stack, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[HEADER] = signature
    return httpx.post(f"{stack.intake_url}/events/hr", content=body, headers=headers, timeout=10)


def _inbox_size(ledger: Ledger) -> int:
    return len(ledger.events(limit=100_000))


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "garbage"])
def test_bad_signature_is_401_and_stores_nothing(stack: Stack, ledger: Ledger, signature: str | None) -> None:
    before = _inbox_size(ledger)
    response = _post(stack, b'{"id": "10009", "uri": "dfo:ansatte"}', signature)
    assert response.status_code == 401
    assert HEADER in response.json()["error"]
    assert _inbox_size(ledger) == before


def test_signature_over_other_bytes_is_refused(stack: Stack, ledger: Ledger) -> None:
    before = _inbox_size(ledger)
    signed = sign(b'{"id": "10009", "uri": "dfo:ansatte"}', stack.secrets["hmac"])
    response = _post(stack, b'{"id": "10010", "uri": "dfo:ansatte"}', signed)  # body swapped
    assert response.status_code == 401
    assert _inbox_size(ledger) == before


@pytest.mark.parametrize("body,expected", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"uri": "dfo:ansatte"}', "id"),
    (b'{"id": "10009", "uri": "dfo:nope"}', "uri"),
    (b'{"id": "10009", "uri": "dfo:ansatte", "gyldigEtter": "01.12.2026"}', "gyldigEtter"),
    (b'{"id": "15076500565", "uri": "dfo:ansatte"}', "fødselsnummer"),
])
def test_malformed_body_is_400_with_a_clear_message(stack: Stack, ledger: Ledger, body: bytes,
                                                    expected: str) -> None:
    before = _inbox_size(ledger)
    response = _post(stack, body, sign(body, stack.secrets["hmac"]))
    assert response.status_code == 400
    assert expected in json.dumps(response.json(), ensure_ascii=False)
    assert "15076500565" not in response.text
    assert _inbox_size(ledger) == before


def test_too_large_body_is_413(stack: Stack) -> None:
    body = b'{"id": "1", "uri": "dfo:ansatte", "pad": "' + b"x" * 70_000 + b'"}'
    assert _post(stack, body, sign(body, stack.secrets["hmac"])).status_code == 413


def test_position_events_are_stored_and_marked_ignored(stack: Stack, ledger: Ledger) -> None:
    body = b'{"id": "777", "uri": "dfo:stillinger", "gyldigEtter": "2026-01-01"}'
    response = _post(stack, body, sign(body, stack.secrets["hmac"]))
    assert response.status_code == 202
    event_id = response.json()["event_id"]
    for _ in range(50):
        event = ledger.get_event(event_id)
        if event and event.state == EventState.IGNORED:
            break
        import time

        time.sleep(0.1)
    assert event is not None and event.state == EventState.IGNORED and "no service" in event.last_error


async def test_sweeper_hands_over_events_that_missed_prefect(stack: Stack, ledger: Ledger) -> None:
    """Prefect unreachable → the event stays in the inbox with the reason; the sweep delivers it."""
    dispatcher = Dispatcher(ledger, tz=OSLO)
    event, created = ledger.record_event(source="dfo", kind="dfo:ansatte", subject_id="10010",
                                         dedupe_key=f"test-sweeper:{date.today()}", payload={"id": "10010"},
                                         valid_after=date.today() - timedelta(days=1))
    assert created
    with temporary_settings({PREFECT_API_URL: f"http://127.0.0.1:{free_port()}/api"}):
        assert await dispatcher.dispatch(event) is None
    kept = ledger.get_event(event.id)
    assert kept.state == EventState.RECEIVED and kept.flow_run_id is None
    assert kept.last_error and kept.dispatch_attempts == 1

    ledger.mark_dispatch_failed(event.id, kept.last_error, timedelta(0))  # due now
    assert await dispatcher.sweep(timedelta(0)) >= 1
    delivered = ledger.get_event(event.id)
    assert delivered.state == EventState.DISPATCHED and delivered.flow_run_id
    run = await wait_flow_run(delivered.flow_run_id)
    assert run.state.is_completed(), run.state
    assert wait_item(ledger, "onboarding", "10010").state == ItemState.DONE
    # A second sweep re-dispatching the same event finds the same run (idempotency key).
    again = await dispatcher._create_run("onboarding/onboarding", {"employee_id": "10010"},
                                         key=event.dedupe_key, when=None)
    assert again == delivered.flow_run_id
