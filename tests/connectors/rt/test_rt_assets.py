"""Assets (laptops) against a real Request Tracker 5 (see conftest.py).

The catalog holds 12 laptops: 6 × ThinkPad T14 Gen 5 (the standard for new hires),
1 × ThinkPad X1 Carbon Gen 12, 2 × MacBook Air 13 M3, 1 × MacBook Pro 14 M3,
1 × Latitude 7450, 1 × EliteBook 840 G11 (see sandbox/rt/initdata.pl).

Each test allocates from its own model so the tests do not depend on their order.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from connectors.rt import RtConfig, RtTicketing
from connectors.rt.assets import FREE_PAGE
from hub.errors import NotFound
from hub.leases import asset_claims
from hub.ledger import Ledger
from tests.connectors.rt.helpers import RtDirect, cf_values
from tests.connectors.ticketing_data import new_ref

pytestmark = pytest.mark.rt

CATALOG = "Laptops"


def new_holder() -> str:
    # A person RT has never seen: RT must create the user from the address.
    return f"ny.ansatt.{uuid.uuid4().hex[:8]}@oslomet.test"


def assert_allocated_in_rt(rt_direct: RtDirect, asset_id: str, *, holder: str, ref: str) -> None:
    stored = rt_direct.asset(asset_id)
    assert stored["Status"] == "allocated"
    assert [h["EmailAddress"] for h in stored["HeldBy"]] == [holder]
    assert cf_values(stored, "ExternalRef") == [ref]


async def test_allocate_a_free_laptop_once_per_reference(rt: RtTicketing, rt_direct: RtDirect) -> None:
    ref, holder = new_ref(), new_holder()
    asset = await rt.allocate_asset(CATALOG, holder=holder, external_ref=ref, model="Dell Latitude 7450")
    assert asset is not None
    assert asset.name == "LT-1011" and asset.model == "Dell Latitude 7450" and asset.catalog == CATALOG
    assert_allocated_in_rt(rt_direct, asset.id, holder=holder, ref=ref)

    again = await rt.allocate_asset(CATALOG, holder=holder, external_ref=ref, model="Dell Latitude 7450")
    assert again is not None and again.id == asset.id
    assert [a.id for a in await rt.find_assets(CATALOG, held_by=holder)] == [asset.id]
    assert [a.id for a in await rt.find_assets(CATALOG, external_ref=ref)] == [asset.id]


async def test_no_free_laptop_of_a_model_gives_none(rt: RtTicketing, rt_direct: RtDirect) -> None:
    model = "HP EliteBook 840 G11"  # the only one of its kind
    first_ref, first_holder = new_ref(), new_holder()
    first = await rt.allocate_asset(CATALOG, holder=first_holder, external_ref=first_ref, model=model)
    assert first is not None
    assert await rt.allocate_asset(CATALOG, holder=new_holder(), external_ref=new_ref(), model=model) is None
    assert_allocated_in_rt(rt_direct, first.id, holder=first_holder, ref=first_ref)
    assert await rt.find_assets(CATALOG, status="new", model=model) == []


async def test_concurrent_allocations_get_different_laptops(rt: RtTicketing, rt_direct: RtDirect) -> None:
    model = "Apple MacBook Air 13 M3"
    wanted = [(new_ref(), new_holder()) for _ in range(2)]
    got = await asyncio.gather(*(rt.allocate_asset(CATALOG, holder=h, external_ref=r, model=model)
                                 for r, h in wanted))
    assert all(a is not None for a in got)
    assert len({a.id for a in got if a}) == 2
    for asset, (ref, holder) in zip(got, wanted, strict=True):
        assert asset is not None
        assert_allocated_in_rt(rt_direct, asset.id, holder=holder, ref=ref)


async def test_a_claim_lost_to_another_allocator_moves_on(rt_config: RtConfig, rt_direct: RtDirect) -> None:
    """Another hub process claims the laptop between our read and our write.

    The interleaving transport lets that other allocator write first (directly in RT),
    so our ``If-Match`` is stale: RT answers 412, the re-read shows the other claim,
    and the connector takes the next free laptop without touching the lost one.
    """
    model = "Lenovo ThinkPad T14 Gen 5"
    other_ref, other_holder = new_ref(), new_holder()
    ref, holder = new_ref(), new_holder()
    raced: list[str] = []

    class InterleavingTransport(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "PUT" and not raced:
                raced.append(request.url.path.rsplit("/", 1)[-1])
                rt_direct.allocate(raced[0], holder=other_holder, ref=other_ref)
            return await super().handle_async_request(request)

    async with RtTicketing(rt_config, transport=InterleavingTransport()) as client:
        asset = await client.allocate_asset(CATALOG, holder=holder, external_ref=ref, model=model)
    assert asset is not None and raced and asset.id != raced[0]
    assert_allocated_in_rt(rt_direct, raced[0], holder=other_holder, ref=other_ref)
    assert_allocated_in_rt(rt_direct, asset.id, holder=holder, ref=ref)


async def test_an_allocation_reads_the_free_stock_a_page_at_a_time(rt_config: RtConfig, rt_direct: RtDirect) -> None:
    """An allocation reads the first page of free laptops and takes the first that is free. Read
    whole (every page, then the empty one after), each allocation had RT render the whole stock:
    with 1,000 laptops in stock an allocation took 37 s."""
    model = "Lenovo ThinkPad T14 Gen 5"
    free_reads: list[dict[str, str]] = []

    class Recording(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and request.url.path.endswith("/assets"):
                query = parse_qs(request.content.decode()).get("query", [""])[0]
                if "Status = 'new'" in query:
                    free_reads.append(dict(request.url.params))
            return await super().handle_async_request(request)

    ref, holder = new_ref(), new_holder()
    async with RtTicketing(rt_config, transport=Recording()) as client:
        assert len(await client.find_assets(CATALOG, status="new", model=model)) >= 2
        free_reads.clear()
        asset = await client.allocate_asset(CATALOG, holder=holder, external_ref=ref, model=model)
    assert asset is not None
    assert_allocated_in_rt(rt_direct, asset.id, holder=holder, ref=ref)
    assert [(r.get("page"), r.get("per_page")) for r in free_reads] == [("1", str(FREE_PAGE))]


async def test_a_guarded_allocation_leaves_an_asset_another_allocator_holds(rt: RtTicketing, rt_direct: RtDirect,
                                                                            tmp_path: Path) -> None:
    """The hub's guard (a ledger lease per asset): a laptop whose lease another allocator holds
    is passed over, untouched, and the next free one is claimed under its own lease, given back
    after."""
    model = f"Guarded model {uuid.uuid4().hex[:6]}"  # stocked here, for this test alone
    rt_direct.stock(model, 2)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    first = (await rt.find_assets(CATALOG, status="new", model=model))[0]
    assert ledger.take_lease(f"asset:{CATALOG}:{first.id}", "another allocator", ttl=timedelta(minutes=1))

    ref, holder = new_ref(), new_holder()
    asset = await rt.allocate_asset(CATALOG, holder=holder, external_ref=ref, model=model,
                                    guard=asset_claims(ledger, CATALOG))

    assert asset is not None and asset.id != first.id
    assert_allocated_in_rt(rt_direct, asset.id, holder=holder, ref=ref)
    assert rt_direct.asset(first.id)["Status"] == "new"
    assert ledger.take_lease(f"asset:{CATALOG}:{asset.id}", "the next allocator", ttl=timedelta(minutes=1))
    ledger.dispose()


async def test_guarded_allocators_in_separate_clients_never_share_a_laptop(rt_config: RtConfig, rt_direct: RtDirect,
                                                                           tmp_path: Path) -> None:
    """Four hub processes (own clients, nothing shared in memory) allocate at once, each laptop
    claimed inside the hub's guard: RT checks If-Match before its write, not with it, so the
    guard, not RT, keeps two allocators off one laptop. Each gets a laptop of its own."""
    model = f"Guarded model {uuid.uuid4().hex[:6]}"
    rt_direct.stock(model, 4)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    wanted = [(new_ref(), new_holder()) for _ in range(4)]
    clients = [RtTicketing(rt_config) for _ in wanted]
    try:
        got = await asyncio.gather(*(c.allocate_asset(CATALOG, holder=h, external_ref=r, model=model,
                                                      guard=asset_claims(ledger, CATALOG))
                                     for c, (r, h) in zip(clients, wanted, strict=True)))
    finally:
        for client in clients:
            await client.aclose()
        ledger.dispose()
    assert all(a is not None for a in got) and len({a.id for a in got if a}) == 4
    for asset, (ref, holder) in zip(got, wanted, strict=True):
        assert asset is not None
        assert_allocated_in_rt(rt_direct, asset.id, holder=holder, ref=ref)


async def test_find_assets_by_status_model_and_odd_reference(rt: RtTicketing) -> None:
    free_pros = await rt.find_assets(CATALOG, status="new", model="Apple MacBook Pro 14 M3")
    assert [(a.name, a.status) for a in free_pros] == [("LT-1010", "new")]
    assert await rt.find_assets(CATALOG, external_ref="x' OR 'a'='a") == []
    assert await rt.find_assets(CATALOG, model="apple macbook pro 14 m3") == []


async def test_unknown_catalog_is_not_found(rt: RtTicketing) -> None:
    with pytest.raises(NotFound):
        await rt.find_assets("Spaceships")
