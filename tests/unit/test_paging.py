"""The hub's paginator (hub.paging): typed tokens, the max-pages guard and loop detection.

Pure tests of the three kinds of token, then the connectors' walks over an
``httpx.MockTransport`` peer that loops (no patching).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from hub.errors import PermanentError
from hub.paging import LinkPaginator, OffsetPaginator, PageNumberPaginator, Paginator


def items(*ids: object) -> list[dict[str, Any]]:
    return [{"id": i} for i in ids]


def ids(got: list[dict[str, Any]]) -> list[object]:
    return [i["id"] for i in got]


# -- walking ----------------------------------------------------------------------------------

def test_page_numbers_walk_until_no_more() -> None:
    pages = PageNumberPaginator(system="peer")
    assert pages.current == 1
    got = pages.next_page(items(1, 2), more=True)
    assert pages.current == 2 and not pages.finished
    got += pages.next_page(items(3), more=False)
    assert pages.finished and ids(got) == [1, 2, 3] and pages.count == 2


def test_offsets_move_on_by_the_items_received() -> None:
    pages = OffsetPaginator(system="peer")
    pages.next_offset(items("a", "b"), more=True)
    assert pages.current == 2
    pages.next_offset(items("c"), more=True)  # a server capping the page at one item
    assert pages.current == 3
    assert ids(pages.next_offset(items("d"), more=False)) == ["d"] and pages.finished


def test_links_are_followed_until_there_is_none() -> None:
    pages = LinkPaginator("http://peer/list", system="peer")
    pages.next_link(items(1), "http://peer/list?$skip=1")
    assert pages.current == "http://peer/list?$skip=1"
    pages.next_link(items(2), None)
    assert pages.finished


def test_an_item_repeated_beside_new_ones_is_returned_once() -> None:
    """An insert during the walk shifts an item onto the next page: not a loop."""
    pages = PageNumberPaginator(system="peer")
    pages.next_page(items(1, 2), more=True)
    assert ids(pages.next_page(items(2, 3), more=True)) == [3]


def test_items_without_a_key_are_never_taken_for_a_repeat() -> None:
    pages = PageNumberPaginator(system="peer")
    pages.next_page([{"name": "x"}], more=True)
    assert pages.next_page([{"name": "x"}], more=False) == [{"name": "x"}]
    unkeyed = PageNumberPaginator(system="peer", key=None)
    unkeyed.next_page(items(1), more=True)
    assert ids(unkeyed.next_page(items(1), more=False)) == [1]


def test_an_empty_last_page_ends_the_walk() -> None:
    pages = PageNumberPaginator(system="peer")
    pages.next_page(items(1), more=True)
    assert pages.next_page([], more=False) == [] and pages.finished


# -- loops ------------------------------------------------------------------------------------

def test_a_page_repeating_the_previous_pages_items_is_a_loop() -> None:
    """A server ignoring the page parameter answers page 1 for every page."""
    pages = PageNumberPaginator(system="peer")
    pages.next_page(items(1, 2), more=True)
    with pytest.raises(PermanentError, match="only items already seen") as info:
        pages.next_page(items(1, 2), more=True)
    assert "pagination loop" in info.value.message and "page 2" in info.value.message
    assert "Report this peer behaviour" in info.value.hint
    assert info.value.kind == "permanent" and info.value.system == "peer"


def test_pages_cycling_through_old_items_are_a_loop() -> None:
    pages = PageNumberPaginator(system="peer")
    pages.next_page(items(1), more=True)
    pages.next_page(items(2), more=True)
    with pytest.raises(PermanentError, match="loop"):
        pages.next_page(items(1), more=True)


def test_a_next_link_seen_before_is_a_loop() -> None:
    pages = LinkPaginator("http://peer/list", system="peer", key=None)
    pages.next_link(items(1), "http://peer/list?page=2")
    with pytest.raises(PermanentError, match="pointed again to http://peer/list") as info:
        pages.next_link(items(2), "http://peer/list")
    assert "pagination loop" in info.value.message


def test_a_link_to_itself_is_a_loop_at_once() -> None:
    pages = LinkPaginator("http://peer/list", system="peer")
    with pytest.raises(PermanentError, match="loop"):
        pages.next_link(items(1), "http://peer/list")


def test_an_offset_that_does_not_move_is_a_loop() -> None:
    """More to come but no items: the next offset is the one just walked."""
    pages = OffsetPaginator(system="peer")
    with pytest.raises(PermanentError, match="offset 0"):
        pages.next_offset([], more=True)


def test_a_token_seen_before_is_a_loop_for_any_token_type() -> None:
    pages: Paginator[str] = Paginator("a", system="peer", key=None)
    pages.advance(items(1), "b")
    pages.advance(items(2), "c")
    with pytest.raises(PermanentError, match="loop"):
        pages.advance(items(3), "b")


def test_max_pages_bounds_the_walk() -> None:
    pages = PageNumberPaginator(system="peer", max_pages=2)
    pages.next_page(items(1), more=True)
    with pytest.raises(PermanentError, match="more than 2 pages") as info:
        pages.next_page(items(2), more=True)
    assert "max_pages" in info.value.hint
    last = PageNumberPaginator(system="peer", max_pages=2)
    last.next_page(items(1), more=True)
    assert ids(last.next_page(items(2), more=False)) == [2]  # exactly max_pages is fine
    with pytest.raises(ValueError):
        PageNumberPaginator(system="peer", max_pages=0)


def test_a_finished_walk_takes_no_more_pages() -> None:
    pages = PageNumberPaginator(system="peer")
    pages.next_page(items(1), more=False)
    with pytest.raises(RuntimeError):
        pages.next_page(items(2), more=False)


# -- the connectors' walks against a looping peer -----------------------------------------------

async def test_n5ws_stops_a_next_link_that_loops() -> None:
    from connectors.n5ws.config import N5wsConfig
    from connectors.n5ws.models import Link, Resource
    from connectors.n5ws.session import N5wsSession

    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        page = int(request.url.params.get("page", "1"))
        nxt = f"http://core/api/list?page={page % 2 + 1}"  # 1 → 2 → 1 → ...
        return httpx.Response(200, json={"results": [{"systemID": f"s{page}-{len(calls)}"}],
                                         "_links": {"next": {"href": nxt}}})

    session = N5wsSession(N5wsConfig(base_url="http://core", username="u", password=SecretStr("p"),
                                     max_attempts=1), transport=httpx.MockTransport(handler))
    try:
        with pytest.raises(PermanentError, match="pagination loop"):
            await session.list_all(Link(href="http://core/api/list?page=1"), Resource)
    finally:
        await session.aclose()
    assert len(calls) == 2


async def test_n5ws_stops_a_core_repeating_its_page_under_new_links() -> None:
    from connectors.n5ws.config import N5wsConfig
    from connectors.n5ws.models import Link, Resource
    from connectors.n5ws.session import N5wsSession

    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        return httpx.Response(200, json={"results": [{"systemID": "a"}, {"systemID": "b"}],
                                         "_links": {"next": {"href": f"http://core/api/list?skip={len(calls)}"}}})

    session = N5wsSession(N5wsConfig(base_url="http://core", username="u", password=SecretStr("p"),
                                     max_attempts=1), transport=httpx.MockTransport(handler))
    try:
        with pytest.raises(PermanentError, match="only items already seen"):
            await session.list_all(Link(href="http://core/api/list"), Resource)
    finally:
        await session.aclose()
    assert len(calls) == 2


async def test_rt_stops_a_server_that_ignores_the_page_parameter() -> None:
    from connectors.rt.config import RtConfig
    from connectors.rt.rest import RtRest

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"items": items("1", "2"), "page": 1, "pages": None})

    rest = RtRest(RtConfig(base_url="http://rt.invalid", token=SecretStr("1-2-3"), max_attempts=1),
                  transport=httpx.MockTransport(handler))
    try:
        with pytest.raises(PermanentError, match="pagination loop"):
            await rest.search("tickets", "id > 0", {"fields": "Subject"})
    finally:
        await rest.aclose()


async def test_claim_first_walks_again_when_lost_claims_moved_free_candidates_past_its_reading() -> None:
    """Pages of two free laptops, read as the walk goes on. Another allocator takes a and b
    under our claims; the free list shifts, so the second page (read after) starts past c and
    d and is empty. One more walk from the first page finds d; without it, "no free laptop"."""
    from hub.paging import claim_first

    stock, taken, walks = ["a", "b", "c", "d"], set[str](), []
    lost_to_others = {"a", "b", "c"}

    async def walk() -> AsyncGenerator[str, None]:
        walks.append(len(walks) + 1)
        for page in range(10):
            free = [x for x in stock if x not in taken][page * 2:page * 2 + 2]
            if not free:
                return
            for x in free:
                yield x

    async def claim(x: str) -> str | None:
        if x in lost_to_others:
            taken.add(x)
            return None
        return x

    assert await claim_first(walk, claim) == "d"
    assert walks == [1, 2]

    taken.clear()
    stock = ["a", "b"]
    assert await claim_first(walk, claim) is None  # every candidate lost, twice: none free
    taken.clear()
    stock = []
    walks.clear()
    assert await claim_first(walk, claim) is None and walks == [1]  # nothing free: one walk


async def test_claim_first_claims_only_inside_its_guard_and_passes_over_what_another_holds() -> None:
    """With a guard, a candidate is claimed inside it; one the guard says another allocator
    holds is passed over without a claim, and counts as lost (the walk goes on to the next)."""
    import contextlib

    from hub.paging import claim_first

    held_by_others, inside, claimed = {"a"}, [], []

    async def walk() -> AsyncGenerator[str, None]:
        for x in ["a", "b", "c"]:
            yield x

    @contextlib.asynccontextmanager
    async def guard(x: str) -> AsyncIterator[bool]:
        inside.append(x)
        yield x not in held_by_others
        inside.remove(x)

    async def claim(x: str) -> str | None:
        assert inside == [x]  # claimed inside its own guard, and only there
        claimed.append(x)
        return x

    assert await claim_first(walk, claim, guard=guard) == "b"
    assert claimed == ["b"] and inside == []
