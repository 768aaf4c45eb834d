"""Laptops in TOPdesk Asset Management through the connector (see conftest.py).

The Laptop template holds 12 laptops: 6 × ThinkPad T14 Gen 5, 1 × ThinkPad X1 Carbon
Gen 12, 2 × MacBook Air 13 M3, 1 × MacBook Pro 14 M3, 1 × Latitude 7450, 1 × EliteBook
840 G11 (see sandbox/topdesk/seed.py). Each test allocates from its own model so the tests
do not depend on their order.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx
import pytest

from connectors.topdesk import TopdeskConfig, TopdeskTicketing
from connectors.topdesk.assets import FREE_PAGE
from hub.errors import InvalidInput, NotFound
from tests.connectors.ticketing_data import new_ref
from tests.connectors.topdesk.helpers import TopdeskDirect

CATALOG = "Laptops"


def new_holder() -> str:
    # A person TOPdesk has never seen: the connector must register them.
    return f"ny.ansatt.{uuid.uuid4().hex[:8]}@oslomet.test"


def assert_allocated(direct: TopdeskDirect, asset_id: str, *, holder: str | None, ref: str) -> None:
    stored = direct.asset(asset_id)
    assert stored["lifecycle-status"] == "Allocated"
    assert stored["hub-reference"] == ref
    assert stored["holders"] == ([holder] if holder else [])


async def test_allocate_a_free_laptop_once_per_reference(topdesk: TopdeskTicketing,
                                                         topdesk_direct: TopdeskDirect) -> None:
    ref, holder = new_ref(), new_holder()
    asset = await topdesk.allocate_asset(CATALOG, holder=holder, external_ref=ref, model="Dell Latitude 7450")
    assert asset is not None
    assert asset.name == "LT-1011" and asset.model == "Dell Latitude 7450" and asset.catalog == CATALOG
    assert asset.status == "allocated" and asset.held_by == [holder] and asset.external_ref == ref
    assert asset.url and asset.url.endswith(f"unid={asset.id}")
    assert_allocated(topdesk_direct, asset.id, holder=holder, ref=ref)
    assert len(topdesk_direct.persons(holder)) == 1

    again = await topdesk.allocate_asset(CATALOG, holder=holder, external_ref=ref, model="Dell Latitude 7450")
    assert again is not None and again.id == asset.id
    assert [a.id for a in await topdesk.find_assets(CATALOG, held_by=holder)] == [asset.id]
    assert [a.id for a in await topdesk.find_assets(CATALOG, external_ref=ref)] == [asset.id]
    assert_allocated(topdesk_direct, asset.id, holder=holder, ref=ref)
    assert len(topdesk_direct.persons(holder)) == 1


async def test_no_free_laptop_of_a_model_gives_none(topdesk: TopdeskTicketing,
                                                    topdesk_direct: TopdeskDirect) -> None:
    model = "HP EliteBook 840 G11"  # the only one of its kind
    first_ref, first_holder = new_ref(), new_holder()
    first = await topdesk.allocate_asset(CATALOG, holder=first_holder, external_ref=first_ref, model=model)
    assert first is not None
    assert await topdesk.allocate_asset(CATALOG, holder=new_holder(), external_ref=new_ref(), model=model) is None
    assert_allocated(topdesk_direct, first.id, holder=first_holder, ref=first_ref)
    assert await topdesk.find_assets(CATALOG, status="new", model=model) == []


async def test_concurrent_allocations_get_different_laptops(topdesk: TopdeskTicketing,
                                                            topdesk_direct: TopdeskDirect) -> None:
    model = "Apple MacBook Air 13 M3"
    wanted = [(new_ref(), new_holder()) for _ in range(2)]
    got = await asyncio.gather(*(topdesk.allocate_asset(CATALOG, holder=h, external_ref=r, model=model)
                                 for r, h in wanted))
    assert all(a is not None for a in got) and len({a.id for a in got if a}) == 2
    for asset, (ref, holder) in zip(got, wanted, strict=True):
        assert asset is not None
        assert_allocated(topdesk_direct, asset.id, holder=holder, ref=ref)


async def test_allocators_in_separate_clients_never_share_a_laptop(topdesk_config: TopdeskConfig,
                                                                   topdesk_direct: TopdeskDirect) -> None:
    """Three hub processes (own clients, own locks) race for the same free T14s: the
    sandbox's atomic If-Match check lets exactly one claim each laptop."""
    model = "Lenovo ThinkPad T14 Gen 5"
    wanted = [(new_ref(), new_holder()) for _ in range(3)]
    clients = [TopdeskTicketing(topdesk_config) for _ in wanted]
    try:
        got = await asyncio.gather(*(c.allocate_asset(CATALOG, holder=h, external_ref=r, model=model)
                                     for c, (r, h) in zip(clients, wanted, strict=True)))
    finally:
        for client in clients:
            await client.aclose()
    assert all(a is not None for a in got) and len({a.id for a in got if a}) == 3
    for asset, (ref, holder) in zip(got, wanted, strict=True):
        assert asset is not None
        assert_allocated(topdesk_direct, asset.id, holder=holder, ref=ref)


async def test_a_claim_lost_to_another_allocator_moves_on(topdesk_config: TopdeskConfig,
                                                          topdesk_direct: TopdeskDirect) -> None:
    """Another allocator claims the laptop between our read and our write: our If-Match is
    stale, TOPdesk answers 412, the re-read shows the other claim, and the connector takes
    the next free laptop without touching the lost one."""
    model = "Lenovo ThinkPad T14 Gen 5"
    other_ref, other_holder = new_ref(), new_holder()
    ref, holder = new_ref(), new_holder()
    raced: list[tuple[str, int]] = []

    class InterleavingTransport(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            first = request.method == "PATCH" and not raced
            if first:
                topdesk_direct.claim(request.url.path.rsplit("/", 1)[-1], holder=other_holder, ref=other_ref)
            response = await super().handle_async_request(request)
            if first:
                raced.append((request.url.path.rsplit("/", 1)[-1], response.status_code))
            return response

    async with TopdeskTicketing(topdesk_config, transport=InterleavingTransport()) as client:
        asset = await client.allocate_asset(CATALOG, holder=holder, external_ref=ref, model=model)
    assert asset is not None and raced and raced[0][1] == 412 and asset.id != raced[0][0]
    assert_allocated(topdesk_direct, raced[0][0], holder=other_holder, ref=other_ref)
    assert_allocated(topdesk_direct, asset.id, holder=holder, ref=ref)


async def test_an_allocation_reads_the_free_stock_a_page_at_a_time(topdesk_config: TopdeskConfig,
                                                                    topdesk_direct: TopdeskDirect) -> None:
    """An allocation reads the first page of free laptops and takes the first that is free, not
    the whole stock (every page, then the empty one after) for each allocation."""
    model = "Lenovo ThinkPad T14 Gen 5"
    ref, holder = new_ref(), new_holder()
    free_reads: list[dict[str, str]] = []

    class Recording(httpx.AsyncHTTPTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            params = dict(request.url.params)
            if request.method == "GET" and request.url.path.endswith("/assetmgmt/assets") \
                    and model in params.get("$filter", "") and ref not in params.get("$filter", ""):
                free_reads.append(params)
            return await super().handle_async_request(request)

    async with TopdeskTicketing(topdesk_config, transport=Recording()) as client:
        assert await client.find_assets(CATALOG, status="new", model=model)  # one left at least
        free_reads.clear()
        asset = await client.allocate_asset(CATALOG, holder=holder, external_ref=ref, model=model)
    assert asset is not None
    assert_allocated(topdesk_direct, asset.id, holder=holder, ref=ref)
    assert [(r.get("pageStart"), r.get("pageSize")) for r in free_reads] == [("0", str(FREE_PAGE))]


async def test_reserve_then_deliver(topdesk: TopdeskTicketing, topdesk_direct: TopdeskDirect) -> None:
    model, ref = "Lenovo ThinkPad X1 Carbon Gen 12", new_ref()
    reserved = await topdesk.reserve_asset(CATALOG, external_ref=ref, model=model)
    assert reserved is not None and reserved.status == "allocated" and reserved.held_by == []
    assert_allocated(topdesk_direct, reserved.id, holder=None, ref=ref)
    again = await topdesk.reserve_asset(CATALOG, external_ref=ref, model=model)
    assert again is not None and again.id == reserved.id

    holder = new_holder()
    topdesk_direct.assign(reserved.id, holder)  # IT hands it over and links the person
    delivered = await topdesk.get_asset(reserved.id, CATALOG)
    assert delivered.held_by == [holder] and delivered.external_ref == ref


async def test_find_assets_by_status_model_and_odd_reference(topdesk: TopdeskTicketing) -> None:
    free_pros = await topdesk.find_assets(CATALOG, status="new", model="Apple MacBook Pro 14 M3")
    assert [(a.name, a.status, a.held_by) for a in free_pros] == [("LT-1010", "new", [])]
    assert await topdesk.find_assets(CATALOG, external_ref="x' or 'a'='a") == []
    assert await topdesk.find_assets(CATALOG, model="apple macbook pro 14 m3") == []
    assert await topdesk.find_assets(CATALOG, held_by="nobody.known@oslomet.test") == []
    assert len(await topdesk.find_assets(CATALOG)) == 12


async def test_unknown_catalog_or_asset(topdesk: TopdeskTicketing) -> None:
    with pytest.raises(NotFound):
        await topdesk.find_assets("Spaceships")
    with pytest.raises(NotFound):
        await topdesk.get_asset(str(uuid.uuid4()), CATALOG)
    with pytest.raises(InvalidInput):
        await topdesk.get_asset("../templates", CATALOG)
