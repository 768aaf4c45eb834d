"""Walking a peer's paged lists safely: one paginator, three kinds of page token.

Like the Singer SDK's paginators, a paginator is a small typed object that holds where the
walk is (:attr:`Paginator.current`: a page number, an offset or a next link), is told what
each page brought (:meth:`Paginator.advance`) and refuses to spin:

- **a token seen twice** — the next page number, offset or link is one already walked:
  the peer is looping;
- **a page of old items** — a non-empty page whose items (by :attr:`key`, e.g. ``id``)
  were all seen before, e.g. the previous page again from a server that ignores the page
  parameter. An item seen before on a page that also brings new ones is skipped (an
  insert during the walk shifted it), so each item is returned once;
- **too many pages** — more than ``max_pages`` pages with more still to come.

Each is a :class:`~hub.errors.PermanentError` with a hint: walking again would loop again,
and the result would be incomplete. When a page is the last is the connector's to say (RT
counts ``pages``, TOPdesk answers 206 or 200, N5WS offers a ``next`` link); the
subclasses take that answer:

::

    Paginator[T]            advance(items, next_token | None) → the page's new items
    ├── PageNumberPaginator page 1, 2, 3, ...             next_page(items, more=...)
    ├── OffsetPaginator     0, +items received, ...      next_offset(items, more=...)
    └── LinkPaginator       the peer's next link (HATEOAS) next_link(items, href | None)
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

from hub.errors import PermanentError

__all__ = ["Paginator", "PageNumberPaginator", "OffsetPaginator", "LinkPaginator", "item_id", "claim_first"]

C = TypeVar("C")
R = TypeVar("R")


async def claim_first(walk: Callable[[], AsyncGenerator[C, None]],
                      claim: Callable[[C], Awaitable[R | None]], *,
                      guard: Callable[[C], contextlib.AbstractAsyncContextManager[bool]] | None = None) -> R | None:
    """The first candidate of ``walk`` (free assets, read a page at a time) that ``claim`` wins,
    reading the pages only as far as that; None when the walk ends with none won.

    ``claim`` answers None for a candidate lost to another claimant. With a ``guard``, a
    candidate is claimed only inside it, and one the guard says another claimant holds (False)
    is lost without a try. Lost claims move the candidates behind them up the pages, past what
    this walk had read, so a walk that lost any and won none walks once more from the first page."""
    for _ in range(2):
        lost = 0
        async with contextlib.aclosing(walk()) as candidates:
            async for candidate in candidates:
                if guard is None:
                    won = await claim(candidate)
                else:
                    async with guard(candidate) as ours:
                        won = await claim(candidate) if ours else None
                if won is not None:
                    return won
                lost += 1
        if not lost:
            break
    return None

T = TypeVar("T", bound=Hashable)
Key = Callable[[dict[str, Any]], str | None]


def item_id(item: dict[str, Any]) -> str | None:
    """The default item key: its ``id`` (an item without one is never taken for a repeat)."""
    value = item.get("id")
    return None if value is None else str(value)


class Paginator(Generic[T]):
    """Where a walk is, and what it has seen. Subclasses decide the next token."""

    def __init__(self, start: T, *, system: str, max_pages: int = 200, key: Key | None = item_id,
                 what: str = "a search") -> None:
        if max_pages < 1:
            raise ValueError("max_pages must be at least 1")
        self.current: T = start
        self.system = system
        self.max_pages = max_pages
        self.key = key
        self.what = what
        self.finished = False
        self.count = 0  # pages accepted so far
        self._tokens: set[T] = {start}
        self._items: set[str] = set()

    def describe(self, token: T) -> str:
        """How a token reads in a message (``page 3``, ``offset 200``, a link)."""
        return str(token)

    def _loop(self, why: str) -> PermanentError:
        return PermanentError(f"{self.system} {why} while walking {self.what}; stopping a pagination loop",
                              system=self.system,
                              hint=f"Report this {self.system} behaviour (its paging repeats itself); "
                                   "the search was not completed, so nothing was decided on it.")

    def advance(self, items: Sequence[Any], next_token: T | None) -> list[dict[str, Any]]:
        """Take one page: its items and the token of the next page (None: this was the last).

        Returns the page's items not seen before; raises on a loop or past ``max_pages``.
        """
        if self.finished:
            raise RuntimeError("the walk is finished; start a new paginator")
        self.count += 1
        records = [i for i in items if isinstance(i, dict)]
        fresh: list[dict[str, Any]] = []
        repeated = 0
        for record in records:
            key = self.key(record) if self.key else None
            if key is None:
                fresh.append(record)
            elif key in self._items:
                repeated += 1
            else:
                self._items.add(key)
                fresh.append(record)
        if records and repeated == len(records):
            raise self._loop(f"answered {self.describe(self.current)} with only items already seen")
        if next_token is None:
            self.finished = True
            return fresh
        if next_token in self._tokens:
            raise self._loop(f"pointed again to {self.describe(next_token)}, already walked")
        if self.count >= self.max_pages:
            raise PermanentError(f"{self.what} in {self.system} has more than {self.max_pages} pages",
                                 system=self.system, hint="Narrow the search or raise max_pages.")
        self._tokens.add(next_token)
        self.current = next_token
        return fresh


class PageNumberPaginator(Paginator[int]):
    """Pages counted 1, 2, 3, ... (RT's ``page``)."""

    def __init__(self, *, system: str, start: int = 1, **kwargs: Any) -> None:
        super().__init__(start, system=system, **kwargs)

    def describe(self, token: int) -> str:
        return f"page {token}"

    def next_page(self, items: Sequence[Any], *, more: bool) -> list[dict[str, Any]]:
        return self.advance(items, self.current + 1 if more else None)


class OffsetPaginator(Paginator[int]):
    """An offset that moves on by the items actually received (a server capping the page
    size still walks correctly); TOPdesk's ``start``/``pageStart``."""

    def __init__(self, *, system: str, start: int = 0, **kwargs: Any) -> None:
        super().__init__(start, system=system, **kwargs)

    def describe(self, token: int) -> str:
        return f"the page at offset {token}"

    def next_offset(self, items: Sequence[Any], *, more: bool) -> list[dict[str, Any]]:
        received = sum(1 for i in items if isinstance(i, dict))
        return self.advance(items, self.current + received if more else None)


class LinkPaginator(Paginator[str]):
    """The peer's own ``next`` link (HATEOAS, e.g. N5WS ``_links.next.href``)."""

    def describe(self, token: str) -> str:
        return token

    def next_link(self, items: Sequence[Any], href: str | None) -> list[dict[str, Any]]:
        return self.advance(items, href or None)
