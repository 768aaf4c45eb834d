"""Walking RT's paged collections (``page``, ``per_page`` ≤ 100) safely.

RT reports ``pages`` only when it can count everything the user may see (tickets with
SQL ACL checks); for assets it answers ``total: null``. So:

- ``pages`` known → stop after that page;
- ``pages`` unknown → stop at the first empty page (a short page is no proof of the end:
  RT drops deleted assets after the SQL paging).

Loop detection, skipping repeated items and the ``max_pages`` bound are the hub's
(:class:`hub.paging.PageNumberPaginator`).
"""

from __future__ import annotations

from typing import Any

from hub.errors import MalformedResponse
from hub.paging import PageNumberPaginator

__all__ = ["Pager"]


class Pager(PageNumberPaginator):
    def __init__(self, per_page: int = 100, max_pages: int = 200, system: str = "rt") -> None:
        super().__init__(system=system, max_pages=max_pages)
        self.per_page = per_page

    def params(self) -> dict[str, int]:
        return {"page": self.current, "per_page": self.per_page}

    def accept(self, body: Any) -> list[dict[str, Any]]:
        """Take one page's JSON body; return its new items and move to the next page."""
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            # A garbled answer (a proxy, a fault on the wire) as much as a wrong URL: retried; one
            # that never ends is the URL (connector-health names it).
            raise MalformedResponse(f"page {self.current} of a search is not an RT collection", system=self.system,
                                    hint="The answer is not the collection asked for (a proxy or the peer failing); "
                                         "it is retried. If it persists, check that base_url points at RT and "
                                         "REST2 is enabled.")
        items = body["items"]
        pages = body.get("pages")
        has_items = any(isinstance(i, dict) for i in items)
        more = has_items and (self.current < pages if isinstance(pages, int) else True)
        return self.next_page(items, more=more)
