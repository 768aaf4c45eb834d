"""The contract every adapter keeps, whatever system it talks to.

Parametrized over connectors/registry.py: registering an adapter enrols it here. Checks:
configuration described and secrets SecretStr; the health check works (and reports, never
raises); 401 → ConfigError, 404 → NotFound, 422 → InvalidInput; 429/503 retried; paging
terminates; ensure_* idempotent; no raw httpx exception escapes (an unreachable peer is a
TransientError; not for ``LOCAL`` adapters, which have no peer). Per port: HR adapters find
an employee by Feide id (any case) and answer None for nobody.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from connectors.registry import ADAPTERS, Adapter, adapters_for
from hub.errors import ConfigError, HubError, InvalidInput, NotFound, TransientError
from sandbox.common import control_headers
from sandbox.procs import free_port
from tests.contract.conftest import Pool, with_capability
from tests.contract.harness import HTTP, LOCAL, NATIVE_TRANSIENT, NOT_FOUND, PAGINATE, WRITE

ALL = with_capability(None)
SECRET_WORDS = ("password", "secret", "token", "api_key", "apikey")


@pytest.mark.parametrize("adapter", ALL)
def test_configuration_is_described_and_secrets_are_secretstr(adapter: Adapter) -> None:
    for name, field in adapter.config_class.model_fields.items():
        assert field.description, f"{adapter.name}: {name} has no description"
        if any(w in name for w in SECRET_WORDS) and not name.endswith(("_url", "_file", "_field")):
            assert "SecretStr" in str(field.annotation), f"{adapter.name}: {name} must be a SecretStr"


@pytest.mark.parametrize("adapter", ALL)
async def test_health_check_works_and_never_raises(pool: Pool, adapter: Adapter) -> None:
    running = await pool.get(adapter)
    for config, expected in ((running.peer.config, True),
                             (running.harness.bad_credentials(running.peer.config), False)):
        client = running.client(config)
        try:
            health = await client.health()
        finally:
            await client.aclose()
        assert health.ok is expected, health
        assert health.latency_ms >= 0 and health.system
    secrets = [v.get_secret_value() for _, v in running.peer.config
               if isinstance(v, SecretStr) and len(v.get_secret_value()) >= 8]  # real secrets, not "hub"
    assert not any(s in repr(running.peer.config) for s in secrets)


@pytest.mark.parametrize("adapter", ALL)
async def test_wrong_credentials_are_a_config_error(pool: Pool, adapter: Adapter) -> None:
    running = await pool.get(adapter)
    client = running.client(running.harness.fast(running.harness.bad_credentials(running.peer.config)))
    try:
        with pytest.raises(ConfigError):
            await running.harness.probe(client, running.peer)
    finally:
        await client.aclose()


@pytest.mark.parametrize("adapter", with_capability(NOT_FOUND))
async def test_absent_things_are_not_found(pool: Pool, adapter: Adapter) -> None:
    running = await pool.get(adapter)
    client = running.client()
    try:
        with pytest.raises(NotFound):
            await running.harness.not_found(client, running.peer)
    finally:
        await client.aclose()


async def _arm(running: Any, **fault: Any) -> None:
    async with httpx.AsyncClient(base_url=running.proxy.url) as http:
        (await http.delete("/_sandbox/faults", headers=control_headers())).raise_for_status()
        (await http.post("/_sandbox/faults", headers=control_headers(),
                         json={"path": "/", **fault})).raise_for_status()


async def _armed(running: Any) -> list[Any]:
    async with httpx.AsyncClient(base_url=running.proxy.url) as http:
        return list((await http.get("/_sandbox/faults", headers=control_headers())).json())


@pytest.mark.parametrize("status,error", [(401, ConfigError), (403, ConfigError), (422, InvalidInput)])
@pytest.mark.parametrize("adapter", with_capability(HTTP))
async def test_error_statuses_map_to_the_error_tree(pool: Pool, adapter: Adapter, status: int,
                                                   error: type[Exception]) -> None:
    running = await pool.get(adapter)
    client = running.proxied()
    await _arm(running, status=status, count=1000)
    try:
        with pytest.raises(error):
            await running.harness.probe(client, running.peer)
    finally:
        await _arm(running, status=503, count=0)
        await client.aclose()


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("adapter", with_capability(HTTP))
async def test_rate_limits_and_overload_are_retried(pool: Pool, adapter: Adapter, status: int) -> None:
    running = await pool.get(adapter)
    client = running.proxied()
    await _arm(running, status=status, count=2, retry_after=0)
    try:
        assert await running.harness.probe(client, running.peer) is not None
        assert await _armed(running) == [], "both injected failures were consumed by retries"
    finally:
        await client.aclose()


@pytest.mark.parametrize("adapter", with_capability(NATIVE_TRANSIENT))
async def test_transient_failures_are_retried(pool: Pool, adapter: Adapter) -> None:
    running = await pool.get(adapter)
    client = running.client()
    try:
        assert await running.harness.transient(client, running.peer) is not None
    finally:
        await client.aclose()


@pytest.mark.parametrize("adapter", with_capability(None, without=LOCAL))
async def test_no_raw_httpx_exception_escapes(pool: Pool, adapter: Adapter) -> None:
    running = await pool.get(adapter)
    nobody = f"http://127.0.0.1:{free_port()}" if HTTP in running.harness.capabilities \
        else f"smtp://127.0.0.1:{free_port()}"
    client = running.client(running.harness.fast(running.harness.via(running.peer, nobody)))
    try:
        with pytest.raises(HubError) as info:
            await running.harness.probe(client, running.peer)
        assert isinstance(info.value, TransientError)
        assert not isinstance(info.value, httpx.HTTPError)
    finally:
        await client.aclose()


@pytest.mark.parametrize("adapter", with_capability(PAGINATE))
async def test_pagination_terminates(pool: Pool, adapter: Adapter) -> None:
    running = await pool.get(adapter)
    client = running.client()
    try:
        expected, seen = await asyncio.wait_for(running.harness.paginate(client, running.peer), 120)
    finally:
        await client.aclose()
    assert expected > 1 and seen == expected


@pytest.mark.parametrize("adapter", with_capability(WRITE))
async def test_ensure_writes_are_idempotent(pool: Pool, adapter: Adapter) -> None:
    running = await pool.get(adapter)
    client = running.client()
    try:
        assert await running.harness.write_twice(client, running.peer) == 1
    finally:
        await client.aclose()


@pytest.mark.parametrize("adapter", [pytest.param(a, id=a.name) for a in adapters_for("hr")])
async def test_hr_finds_people_by_feide_id_and_nobody_is_none(pool: Pool, adapter: Adapter) -> None:
    running = await pool.get(adapter)
    feide_id, employee_id = running.harness.feide_id(running.peer)
    client = running.client()
    try:
        found = await client.find_by_feide_id(feide_id.upper())
        nobody = await client.find_by_feide_id("nobody-at-all@example.invalid")
    finally:
        await client.aclose()
    assert found is not None and found.id == employee_id
    assert nobody is None


def test_every_registered_adapter_is_enrolled() -> None:
    assert {p.values[0].name for p in ALL} == {a.name for a in ADAPTERS}


async def _release_cycle(client: Any, catalog: str = "Laptops") -> None:
    """A held laptop comes back: released, it is free (no holder, no reference), a second
    release changes nothing, and the next allocation can hand it out."""
    import uuid

    ref = f"contract:release:{uuid.uuid4().hex[:8]}"
    held = await client.allocate_asset(catalog, holder="leaver.contract@oslomet.no", external_ref=ref)
    assert held is not None and held.held_by and held.external_ref == ref
    released = await client.release_asset(held.id, catalog)
    assert (released.status, released.held_by, released.external_ref) == ("new", [], None)
    assert await client.release_asset(held.id, catalog) == released  # again: nothing changes
    assert held.id in {a.id for a in await client.find_assets(catalog, status="new")}
    assert not await client.find_assets(catalog, external_ref=ref)
    again = await client.allocate_asset(catalog, holder="next.hire@oslomet.no", external_ref=f"{ref}:next",
                                        model=held.model)
    assert again is not None  # stock is there again (the released laptop or another of its model)
    await client.release_asset(again.id, catalog)




async def _guarded_allocation(client: Any, catalog: str = "Laptops") -> None:
    """An allocation given a guard claims each free asset only inside it, and passes over one
    the guard says another allocator holds, leaving it untouched (hub.ports.ticketing.AssetGuard)."""
    import contextlib
    import uuid

    asked: list[str] = []

    @contextlib.asynccontextmanager
    async def guard(asset_id: str) -> AsyncIterator[bool]:
        asked.append(asset_id)
        yield len(asked) > 1  # another allocator holds the first one offered

    ref = f"contract:guard:{uuid.uuid4().hex[:8]}"
    held = await client.allocate_asset(catalog, holder="guarded.contract@oslomet.no", external_ref=ref, guard=guard)
    try:
        assert held is not None and held.external_ref == ref
        assert len(asked) == 2 and held.id == asked[1] != asked[0]
        passed_over = await client.get_asset(asked[0], catalog)
        assert (passed_over.status, passed_over.held_by, passed_over.external_ref) == ("new", [], None)
    finally:
        if held is not None:
            await client.release_asset(held.id, catalog)


@pytest.mark.parametrize("scenario", [pytest.param(_release_cycle, id="a-returned-asset-goes-back-to-stock"),
                                      pytest.param(_guarded_allocation, id="each-asset-claimed-inside-the-guard")])
@pytest.mark.parametrize("adapter", [pytest.param(a, id=a.name) for a in adapters_for("ticketing")])
async def test_ticketing_asset_register(pool: Pool, adapter: Adapter,
                                        scenario: Callable[[Any], Awaitable[None]]) -> None:
    running = await pool.get(adapter)
    client = running.client()
    try:
        await scenario(client)
    finally:
        await client.aclose()


async def test_the_memory_ticketing_fake_releases_like_the_adapters() -> None:
    from tests.flows.fakes import MemoryTicketing

    fake = MemoryTicketing()
    fake.stock("Laptops", "LT-0001", "Lenovo ThinkPad T14 Gen 5")
    await _release_cycle(fake)
    fake.stock("Laptops", "LT-0002", "Lenovo ThinkPad T14 Gen 5")
    await _guarded_allocation(fake)
