"""The intake receiver on the real stack: refusals store nothing; acceptance is durable; a burst
is dispatched once per event even when Prefect fails some requests."""

from __future__ import annotations

import asyncio
import base64
import json
import select
import socket
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from devtools.stack import Stack, StackPorts
from hub.dispatch import Dispatcher
from hub.ledger import EventState, ItemState, Ledger
from hub.settings import OSLO
from hub.signing import SIGNATURE_HEADER, sign_headers
from sandbox.procs import Proc, free_port, python_module, start, wait_http
from tests.e2e.conftest import wait_flow_run, wait_item

pytestmark = pytest.mark.e2e


def _post(stack: Stack, body: bytes, headers: dict[str, str] | None,
          content_type: str = "application/json") -> httpx.Response:
    return httpx.post(f"{stack.intake_url}/events/hr", content=body,
                      headers={"Content-Type": content_type, **(headers or {})}, timeout=10)


def _signed(stack: Stack, body: bytes, **kwargs: Any) -> dict[str, str]:
    return sign_headers(body, stack.secrets["hmac"], **kwargs)


def _inbox_size(ledger: Ledger) -> int:
    return len(ledger.events(limit=100_000))


BODY = b'{"id": "10009", "uri": "dfo:ansatte"}'


@pytest.mark.parametrize("headers", [
    None,
    {"webhook-id": "msg_1", "webhook-timestamp": "0", SIGNATURE_HEADER: "v1,AAAA"},
    {"webhook-id": "msg_1", "webhook-timestamp": "now", SIGNATURE_HEADER: "garbage"},
    "other-secret", "zero-signature", "sha256-scheme",
])
def test_bad_signature_is_401_and_stores_nothing(stack: Stack, ledger: Ledger, headers: Any) -> None:
    if headers == "other-secret":
        headers = sign_headers(BODY, "not-the-hub-secret")
    elif headers == "zero-signature":
        headers = {**_signed(stack, BODY), SIGNATURE_HEADER: "v1," + base64.b64encode(bytes(32)).decode()}
    elif headers == "sha256-scheme":  # the old X-Hub-Signature-256 scheme is no longer accepted
        import hashlib
        import hmac

        headers = {"X-Hub-Signature-256": "sha256=" + hmac.new(stack.secrets["hmac"].encode(), BODY,
                                                                hashlib.sha256).hexdigest()}
    before = _inbox_size(ledger)
    response = _post(stack, BODY, headers)
    assert response.status_code == 401
    assert "webhook-" in response.json()["error"]
    assert _inbox_size(ledger) == before


def test_signature_over_other_bytes_is_refused(stack: Stack, ledger: Ledger) -> None:
    before = _inbox_size(ledger)
    signed = _signed(stack, BODY)
    response = _post(stack, b'{"id": "10010", "uri": "dfo:ansatte"}', signed)  # body swapped
    assert response.status_code == 401
    assert _inbox_size(ledger) == before


@pytest.mark.parametrize("age,word", [(timedelta(minutes=6), "old"), (timedelta(minutes=-6), "future")])
def test_a_stale_or_future_signature_is_401(stack: Stack, ledger: Ledger, age: timedelta, word: str) -> None:
    before = _inbox_size(ledger)
    response = _post(stack, BODY, _signed(stack, BODY, timestamp=datetime.now(OSLO) - age))
    assert response.status_code == 401
    assert word in response.json()["error"] and "webhook-timestamp" in response.json()["error"]
    assert _inbox_size(ledger) == before


def test_a_webhook_id_replayed_with_another_body_is_409(stack: Stack, ledger: Ledger) -> None:
    first = b'{"id": "10011", "uri": "dfo:stillinger", "gyldigEtter": "2026-01-02"}'
    second = b'{"id": "10012", "uri": "dfo:stillinger", "gyldigEtter": "2026-01-02"}'
    msg_id = f"msg_{uuid.uuid4().hex}"
    assert _post(stack, first, _signed(stack, first, msg_id=msg_id)).status_code == 202
    before = _inbox_size(ledger)
    response = _post(stack, second, _signed(stack, second, msg_id=msg_id))
    assert response.status_code == 409
    assert _inbox_size(ledger) == before
    # The same message re-sent (a sender's retry) is a duplicate, not an error.
    again = _post(stack, first, _signed(stack, first, msg_id=msg_id))
    assert again.status_code == 200 and again.json()["duplicate"] is True


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
    response = _post(stack, body, _signed(stack, body))
    assert response.status_code == 400
    assert expected in json.dumps(response.json(), ensure_ascii=False)
    assert "15076500565" not in response.text
    assert _inbox_size(ledger) == before


def test_not_json_is_415(stack: Stack, ledger: Ledger) -> None:
    before = _inbox_size(ledger)
    response = _post(stack, BODY, _signed(stack, BODY), content_type="text/plain")
    assert response.status_code == 415
    assert "application/json" in response.json()["error"]
    assert _inbox_size(ledger) == before


def test_get_on_the_event_route_is_405_with_allow(stack: Stack) -> None:
    response = httpx.get(f"{stack.intake_url}/events/hr", timeout=10)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


def test_too_large_body_is_413(stack: Stack) -> None:
    body = b'{"id": "1", "uri": "dfo:ansatte", "pad": "' + b"x" * 70_000 + b'"}'
    assert _post(stack, body, _signed(stack, body)).status_code == 413


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _stream_chunked(port: int, total: int, chunk: int = 256 * 1024) -> tuple[bytes, int]:
    """POST an unsigned chunked body of up to ``total`` bytes, stopping as soon as an answer
    arrives. Returns (the answer's first bytes, body bytes sent before it came)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        sock.sendall(b"POST /events/hr HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        piece = f"{chunk:x}\r\n".encode() + b"x" * chunk + b"\r\n"
        pending, sent, queued = memoryview(b""), 0, 0
        sock.setblocking(False)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            readable, writable, _ = select.select([sock], [sock] if queued < total or pending else [], [], 10)
            if readable:
                break
            if writable:
                if not pending:
                    pending, queued = memoryview(piece), queued + chunk
                try:
                    n = sock.send(pending)
                except (BrokenPipeError, ConnectionResetError):
                    break
                pending, sent = pending[n:], sent + n
        sock.setblocking(True)
        answer = b""
        try:
            while b"\r\n" not in answer:
                data = sock.recv(4096)
                if not data:
                    break
                answer += data
        except ConnectionResetError:
            pass
        return answer, sent
    finally:
        sock.close()


def test_a_huge_chunked_body_is_refused_while_reading(stack: Stack) -> None:
    """An unsigned 128 MB chunked body: 413 once the limit (64 KiB) is passed, long before the
    end; the intake's memory does not grow by the body's size (it grew 600 MB for 300 MB)."""
    pid = stack.procs["intake"].popen.pid
    rss_before = _rss_kib(pid)
    answer, sent = _stream_chunked(stack.ports.intake, 128 * 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 32 * 1024 * 1024, f"the intake read {sent} bytes before refusing"
    assert _rss_kib(pid) - rss_before < 32 * 1024
    assert httpx.get(f"{stack.intake_url}/health", timeout=10).status_code == 200


def test_position_events_reach_the_employment_router(stack: Stack, ledger: Ledger) -> None:
    """dfo:stillinger was recorded and ignored until movers and leavers (issue 14): now it
    starts the employment-changes router, which finds no employee 777 and writes nothing."""
    body = b'{"id": "777", "uri": "dfo:stillinger", "gyldigEtter": "2026-01-01"}'
    response = _post(stack, body, _signed(stack, body))
    assert response.status_code == 202
    event_id = response.json()["event_id"]
    for _ in range(100):
        event = ledger.get_event(event_id)
        if event and event.state == EventState.DISPATCHED:
            break
        time.sleep(0.1)
    assert event is not None and event.state == EventState.DISPATCHED and event.flow_run_id
    run = asyncio.run(wait_flow_run(event.flow_run_id))
    assert run.state.is_completed() and "HR does not know employee 777" in (run.state.message or "")


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
    await dispatcher.aclose()


# ---- a burst through a faulty Prefect API ---------------------------------------------------

# 100 events, 50 at a time: each is two creations (onboarding and the employment-changes
# router), so Prefect takes 200 creations through its faults, as the 200-event burst of
# issue 9 did before events fanned out.
BURST = 100
BATCH = 50
# Faults on run creation, taken in this order by the first matching requests: busy (503) and a
# committed creation whose answer is lost (502) are the dispatcher's to retry at once; each 500
# costs its event one attempt, and nothing more.
FAULTS = [{"status": 503, "count": 3}, {"kind": "lost_response", "lost_as": "502", "count": 1},
          {"status": 500, "count": 1}] * 5
INJECTED_500 = 5


@pytest.fixture(scope="module")
def burst_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A Prefect server of its own (SQLite, as the demo's): the burst neither waits behind the
    shared stack's runs nor leaves its runs in it."""
    own = Stack(home=tmp_path_factory.mktemp("burst"), ports=StackPorts.free())
    proc = own.start_prefect()
    try:
        wait_http(f"{own.prefect_api}/health", 180, proc=proc, ok=lambda r: r.status_code == 200)
        yield own
    finally:
        own.stop_all()


def _prefect(stack: Stack) -> Any:
    from prefect.client.orchestration import PrefectClient

    return PrefectClient(stack.prefect_api)


@pytest.fixture
def sink_deployment(burst_stack: Stack) -> Iterator[tuple[str, str]]:
    """A deployment no runner serves: its runs stay scheduled (in 30 days), nothing executes.
    The employment-changes router, the other route of a dfo:ansatte event, gets one too."""
    name = f"sink-{uuid.uuid4().hex[:8]}"

    async def create() -> tuple[Any, Any, Any]:
        async with _prefect(burst_stack) as client:
            flow_id = await client.create_flow_from_name("intake-burst")
            router_id = await client.create_flow_from_name("employment-changes")
            await client.create_deployment(router_id, name="employment-changes")
            return flow_id, router_id, await client.create_deployment(flow_id, name=name)

    async def delete(*flow_ids: Any) -> None:
        async with _prefect(burst_stack) as client:  # the flows' runs and deployments go with them
            for flow_id in flow_ids:
                await client.delete_flow(flow_id)

    flow_id, router_id, deployment_id = asyncio.run(create())
    try:
        yield f"intake-burst/{name}", str(deployment_id)
    finally:
        asyncio.run(delete(flow_id, router_id))


@pytest.fixture
def faulty_prefect(burst_stack: Stack, tmp_path: Path) -> Iterator[Proc]:
    from sandbox.faultproxy import start_fault_proxy

    proxy: Any = start_fault_proxy(burst_stack.prefect_ui, tmp_path / "logs")
    try:
        yield proxy
    finally:
        proxy.stop()


def _control(proxy: Any) -> dict[str, str]:
    token = proxy.extra.get("control_token")
    return {"X-Sandbox-Token": token} if token else {}


@pytest.fixture
def burst_intake(burst_stack: Stack, faulty_prefect: Any, sink_deployment: tuple[str, str],
                 tmp_path: Path) -> Iterator[tuple[str, Ledger, Proc]]:
    """An intake (own ledger, own port) that reaches Prefect through the fault proxy."""
    port = free_port()
    home = tmp_path / "hub"
    env = {**burst_stack.env(), "HUB_HOME": str(home), "HUB_INTAKE__PORT": str(port),
           "PREFECT_API_URL": f"{faulty_prefect.url}/api", "HUB_PREFECT_API_URL": f"{faulty_prefect.url}/api",
           "HUB_ONBOARDING__DEPLOYMENT": sink_deployment[0], "PREFECT_CLIENT_MAX_RETRIES": "0",
           "HUB_INTAKE__SWEEP_INTERVAL": "1", "HUB_INTAKE__SWEEP_AFTER": "2"}
    env.pop("HUB_LEDGER_URL", None)
    proc = start("intake-burst", python_module("hub.intake"), log_dir=tmp_path / "logs", env=env,
                 url=f"http://127.0.0.1:{port}")
    try:
        wait_http(f"{proc.url}/health", 60, proc=proc, ok=lambda r: r.status_code == 200)
        yield proc.url or "", Ledger(f"sqlite:///{home / 'ledger.db'}", migrate=False), proc
    finally:
        proc.stop()


async def _send_burst(intake_url: str, secret: str, ids: list[str], valid_after: date) -> list[int]:
    statuses: list[int] = []
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=BATCH)) as client:
        for start_at in range(0, len(ids), BATCH):
            async def one(employee_id: str) -> int:
                body = json.dumps({"id": employee_id, "uri": "dfo:ansatte",
                                   "gyldigEtter": valid_after.isoformat()}).encode()
                headers = {"Content-Type": "application/json", **sign_headers(body, secret)}
                for _ in range(3):  # a sender re-sends the same message when the line drops
                    try:
                        response = await client.post(f"{intake_url}/events/hr", content=body, headers=headers)
                        return response.status_code
                    except httpx.TransportError:
                        await asyncio.sleep(0.5)
                return 0

            statuses += await asyncio.gather(*(one(i) for i in ids[start_at:start_at + BATCH]))
    return statuses


def test_a_burst_through_a_faulty_prefect_is_dispatched_once_per_event(
        burst_stack: Stack, faulty_prefect: Any, sink_deployment: tuple[str, str],
        burst_intake: tuple[str, Ledger, Proc]) -> None:
    """100 events, 50 at a time, through a Prefect API that is busy (503), loses the answer to
    committed creations (502) and fails 5 creations (500). Every event gets exactly one flow
    run, and only the 5 that met a 500 needed a second attempt: one request's error does not
    fail the dispatches beside it (the in-process proof with exact timing is
    tests/unit/test_intake_dispatch.py)."""
    intake_url, burst_ledger, proc = burst_intake
    deployment_id = sink_deployment[1]
    for fault in FAULTS:
        armed = httpx.post(f"{faulty_prefect.url}/_sandbox/faults", headers=_control(faulty_prefect), timeout=10,
                           json={"path": f"/api/deployments/{deployment_id}/create_flow_run", "method": "POST",
                                 **fault})
        assert armed.status_code == 201, armed.text
    ids = [f"burst{n:04d}" for n in range(BURST)]
    started = time.monotonic()
    statuses = asyncio.run(_send_burst(intake_url, burst_stack.secrets["hmac"], ids,
                                       datetime.now(OSLO).date() + timedelta(days=30)))
    assert set(statuses) <= {200, 202} and statuses.count(202) >= BURST - 3, Counter(statuses)

    deadline = time.monotonic() + 240  # about 30 s on a quiet machine; generous for a loaded one
    while time.monotonic() < deadline:
        events = burst_ledger.events(limit=1000)
        if len(events) == BURST and all(e.state == EventState.DISPATCHED for e in events):
            break
        time.sleep(0.5)
    waiting = [e for e in events if e.state != EventState.DISPATCHED]
    assert len(events) == BURST and not waiting, (
        f"{len(waiting)} not dispatched after {time.monotonic() - started:.0f}s, e.g. "
        f"{[(e.subject_id, e.dispatch_attempts, e.last_error) for e in waiting[:3]]}; see {proc.log_path}")

    left = httpx.get(f"{faulty_prefect.url}/_sandbox/faults", headers=_control(faulty_prefect), timeout=10)
    assert left.json() == [], "every injected fault was met"
    # The 5 that met a 500 need a second attempt. On a loaded machine (the suite runs two
    # processes side by side) a dispatch may also outlast its ~10 s of busy-server retries and
    # be handed over by the sweeper; a few such are no cascade. Before the fix one error closed
    # the shared client under the others: 192 of 200 needed 2-3 attempts.
    retried = [e for e in events if e.dispatch_attempts > 1]
    assert INJECTED_500 <= len(retried) <= INJECTED_500 + 5, (
        f"{len(retried)} events needed more than one attempt for {INJECTED_500} injected errors: "
        f"{sorted({(e.last_error or '')[:80] for e in retried})}")
    assert all(e.dispatch_attempts <= 3 for e in retried)
    # Before the fix the last of 200 was dispatched 7 min 50 s after it arrived. Here, with
    # two creations per event and the rest of the suite beside it, 87 s was seen; a cascade
    # would take many minutes.
    slowest = max((e.dispatched_at - e.received_at).total_seconds() for e in events)
    assert slowest < 180, f"the last event was dispatched {slowest:.0f}s after it was received"

    # Exactly one flow run per event, in Prefect itself.
    flow_run_ids = {e.flow_run_id for e in events}
    assert len(flow_run_ids) == BURST

    async def count_runs() -> int:
        from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

        async with _prefect(burst_stack) as client:
            return await client.count_flow_runs(
                deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[uuid.UUID(deployment_id)])))

    assert asyncio.run(count_runs()) == BURST
