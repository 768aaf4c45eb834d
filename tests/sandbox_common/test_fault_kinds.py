"""Each fault kind of :mod:`sandbox.common`, seen by a real client, and how the hub's HTTP
policy (:mod:`hub.http`) files it: timeouts, resets and lost answers are transient (retried),
a malformed body is a clear transient error (the peer or a proxy failing), never a crash."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest

from hub.errors import MalformedResponse, TransientError
from hub.http import ApiClient, RetryPolicy
from sandbox.common import FaultInjector, control_headers
from tests.sandbox_common.conftest import CONTROL_TOKEN, Served, Store

ONCE = RetryPolicy(max_attempts=1, timeout=1.0, connect_timeout=1.0)


def arm(url: str, **fault: object) -> None:
    response = httpx.post(f"{url}/_sandbox/faults", json=fault, headers=control_headers(CONTROL_TOKEN), timeout=5)
    assert response.status_code == 201, response.text


def stats(url: str) -> dict:
    return httpx.get(f"{url}/_sandbox/faults/stats", headers=control_headers(CONTROL_TOKEN), timeout=5).json()


def asgi(injector: FaultInjector) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=injector), base_url="http://sandbox",
                             headers=control_headers(CONTROL_TOKEN))


async def test_status_and_retry_after(injector: FaultInjector) -> None:
    async with asgi(injector) as client:
        assert (await client.post("/_sandbox/faults", json={"path": "/api", "kind": "retry_after",
                                                            "retry_after": 2})).status_code == 201
        await client.post("/_sandbox/faults", json={"path": "/api", "status": 503})
        first, second, third = [await client.get("/api/items") for _ in range(3)]
        assert (first.status_code, first.headers["Retry-After"]) == (429, "2")
        assert second.status_code == 503 and "Retry-After" not in second.headers
        assert third.status_code == 200
        counted = (await client.get("/_sandbox/faults/stats")).json()
    assert counted["requests"] == 3 and counted["injected"] == {"retry_after": 1, "status": 1}
    assert counted["statuses"] == {"429": 1, "503": 1}


async def test_an_unknown_kind_is_refused(injector: FaultInjector) -> None:
    async with asgi(injector) as client:
        response = await client.post("/_sandbox/faults", json={"path": "/", "kind": "gremlins"})
    assert response.status_code == 422 and "gremlins" in response.text


async def test_timeout_holds_longer_than_the_client_waits_and_writes_nothing(served: Served, store: Store) -> None:
    arm(served.url, path="/api", kind="timeout", hold=3)
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{served.url}/api/items", json={"n": 1}, timeout=0.5)
    arm(served.url, path="/api", kind="timeout", hold=3)
    async with ApiClient("peer", served.url, policy=ONCE) as client:
        with pytest.raises(TransientError, match="timed out"):
            await client.request("POST", "/api/items", json={"n": 2})
    assert store.written == [] and stats(served.url)["injected"] == {"timeout": 2}


async def test_timeout_answers_504_when_the_client_waits_long_enough(injector: FaultInjector) -> None:
    async with asgi(injector) as client:
        await client.post("/_sandbox/faults", json={"path": "/api", "kind": "timeout", "hold": 0.2})
        response = await client.get("/api/items")
    assert response.status_code == 504


async def test_reset_closes_the_connection_without_an_answer(served: Served, store: Store) -> None:
    arm(served.url, path="/api", kind="reset")
    with pytest.raises(httpx.TransportError) as raw:
        httpx.post(f"{served.url}/api/items", json={"n": 1}, timeout=5)
    assert isinstance(raw.value, (httpx.ReadError, httpx.RemoteProtocolError))
    arm(served.url, path="/api", kind="reset")
    async with ApiClient("peer", served.url, policy=ONCE) as client:
        with pytest.raises(TransientError, match="cannot reach peer"):
            await client.request("GET", "/api/items")
        assert (await client.request("GET", "/api/items")).status_code == 200  # the next one is fine
    assert store.written == [] and stats(served.url)["injected"] == {"reset": 2}


@pytest.mark.parametrize("lost_as", ["reset", "502"])
async def test_lost_response_commits_the_write_then_drops_the_answer(served: Served, store: Store,
                                                                     lost_as: str) -> None:
    arm(served.url, path="/api", kind="lost_response", lost_as=lost_as)
    async with ApiClient("peer", served.url, policy=ONCE) as client:
        with pytest.raises(TransientError):
            await client.request("POST", "/api/items", json={"n": 1})
    assert store.written == [{"n": 1}]  # committed although the client saw a failure
    assert stats(served.url)["injected"] == {"lost_response": 1}


async def test_malformed_truncates_the_real_answer_or_sends_a_proxy_page(injector: FaultInjector,
                                                                        store: Store) -> None:
    async with asgi(injector) as client:
        await client.post("/_sandbox/faults", json={"path": "/api", "kind": "malformed", "malformed_as": "truncate"})
        await client.post("/_sandbox/faults", json={"path": "/api", "kind": "malformed", "malformed_as": "garbage"})
        truncated = await client.post("/api/items", json={"n": 1})
        garbage = await client.get("/api/items")
    assert truncated.status_code == 200 and truncated.headers["content-length"] == str(len(truncated.content))
    assert truncated.content and b'"id":1' in truncated.content and not truncated.content.endswith(b"}")
    assert store.written == [{"n": 1}]  # truncate passes the request on
    assert garbage.status_code == 200 and garbage.content.startswith(b"<html>")
    for response in (truncated, garbage):
        with pytest.raises(ValueError):
            response.json()


async def test_a_malformed_body_is_a_clear_transient_error_in_the_hub(served: Served) -> None:
    arm(served.url, path="/api", kind="malformed", malformed_as="garbage")
    async with ApiClient("peer", served.url, policy=ONCE) as client:
        with pytest.raises(MalformedResponse, match="not valid JSON") as info:
            await client.json("GET", "/api/items")
    assert isinstance(info.value, TransientError) and "proxy or the peer failing" in info.value.hint


def _draws(injector: FaultInjector, seed: int) -> list[str]:
    import asyncio

    async def run() -> list[str]:
        seen = []
        async with asgi(injector) as client:
            await client.post("/_sandbox/faults", json={"path": "/api", "rate": 0.3, "seed": seed,
                                                        "kinds": ["status", "retry_after", "malformed"],
                                                        "statuses": [502, 503]})
            for _ in range(200):
                response = await client.get("/api/items")
                try:
                    response.json()
                    readable = "json"
                except ValueError:
                    readable = "malformed"
                seen.append(f"{response.status_code}:{readable}")
            assert (await client.get("/_sandbox/faults")).json()[0]["rate"] == 0.3
            assert (await client.get("/_sandbox/faults/stats")).status_code == 200  # never faulted
        return seen

    return asyncio.run(run())


def test_rate_is_seeded_per_rule_and_every_injection_is_counted(store: Store) -> None:
    from tests.sandbox_common.conftest import store_app

    first, again, other = (FaultInjector(store_app(store), control_token=CONTROL_TOKEN) for _ in range(3))
    draws = _draws(first, seed=7)
    assert draws == _draws(again, seed=7) and draws != _draws(other, seed=8)
    counted = first.stats()
    faulted = [d for d in draws if d != "200:json"]
    assert counted["requests"] == 200 and counted["total_injected"] == len(faulted)
    assert 30 <= len(faulted) <= 90  # about 20 % of 200 … 0.3 · 200 = 60
    assert set(counted["injected"]) == {"status", "retry_after", "malformed"}
    assert Counter(d[:3] for d in faulted)["429"] == counted["injected"]["retry_after"]


async def test_the_proxy_injects_in_front_of_a_peer_without_injection(proxied: Served, store: Store) -> None:
    arm(proxied.url, path="/api", kind="lost_response", lost_as="reset")
    async with ApiClient("peer", proxied.url, policy=ONCE) as client:
        with pytest.raises(TransientError):
            await client.request("POST", "/api/items", json={"n": 1})
        assert store.written == [{"n": 1}]  # reached the real peer
        arm(proxied.url, path="/", rate=1.0, kinds=["timeout"], hold=3, seed=1)
        with pytest.raises(TransientError, match="timed out"):
            await client.request("GET", "/api/items")
    assert stats(proxied.url) == {"requests": 2, "injected": {"lost_response": 1, "timeout": 1},
                                  "total_injected": 2, "statuses": {}}


def test_the_proxy_answers_502_when_its_upstream_is_down() -> None:
    from sandbox.faultproxy import create_app
    from sandbox.procs import free_port

    with Served(create_app(f"http://127.0.0.1:{free_port()}", control_token=CONTROL_TOKEN)) as proxy:
        response = httpx.get(f"{proxy.url}/api/items", timeout=5)
    assert response.status_code == 502 and "unreachable" in response.text


def test_the_proxy_keeps_the_clients_host_so_links_built_from_it_come_back_through_the_proxy(
        proxied: Served) -> None:
    seen = httpx.get(f"{proxied.url}/api/host", timeout=5).json()
    assert seen == {"host": f"127.0.0.1:{proxied.port}"}


def test_the_proxy_process_passes_the_upstreams_date_and_adds_none(store: Store, tmp_path) -> None:
    """Two Date headers reach a client as one "a, b" value, which email.utils reads as a naive time."""
    from sandbox.faultproxy import start_fault_proxy
    from tests.sandbox_common.conftest import store_app

    with Served(store_app(store)) as upstream:
        proxy = start_fault_proxy(upstream.url, tmp_path, control_token=CONTROL_TOKEN)
        try:
            response = httpx.get(f"{proxy.url}/api/items", timeout=10)  # type: ignore[attr-defined]
        finally:
            proxy.stop()  # type: ignore[attr-defined]
    assert response.status_code == 200 and len(response.headers.get_list("date")) == 1
