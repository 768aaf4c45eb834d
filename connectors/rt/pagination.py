"""Walking RT's paged collections (``page``, ``per_page`` ≤ 100) safely.

RT reports ``pages`` only when it can count everything the user may see (tickets with
SQL ACL checks); for assets it answers ``total: null``. So:

- ``pages`` known → stop after that page;
- ``pages`` unknown → stop at the first empty page (a short page is no proof of the end:
  RT drops deleted assets after the SQL paging);
- an item seen before is skipped; a non-empty page with nothing new means the server is
  looping, which raises instead of spinning; ``max_pages`` bounds the walk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.errors import PermanentError

__all__ = ["Pager"]


@dataclass
class Pager:
    per_page: int = 100
    max_pages: int = 200
    system: str = "rt"
    page: int = 1
    done: bool = False
    requests: int = 0
    _seen: set[str] = field(default_factory=set)

    def params(self) -> dict[str, int]:
        return {"page": self.page, "per_page": self.per_page}

    def accept(self, body: Any) -> list[dict[str, Any]]:
        """Take one page's JSON body; return its new items and move to the next page."""
        self.requests += 1
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise PermanentError(f"page {self.page} of a search is not an RT collection", system=self.system,
                                 hint="Check that base_url points at RT and REST2 is enabled.")
        items: list[dict[str, Any]] = [i for i in body["items"] if isinstance(i, dict)]
        fresh = []
        for item in items:
            key = str(item.get("id"))
            if key not in self._seen:
                self._seen.add(key)
                fresh.append(item)
        if items and not fresh:
            raise PermanentError(f"RT returned page {self.page} again (only items already seen); "
                                 "stopping a pagination loop", system=self.system,
                                 hint="Report this RT behaviour; the search was not completed.")
        pages = body.get("pages")
        if isinstance(pages, int):
            self.done = self.page >= pages or not items
        else:
            self.done = not items
        if not self.done:
            if self.page >= self.max_pages:
                raise PermanentError(f"search has more than {self.max_pages} pages", system=self.system,
                                     hint="Narrow the search or raise max_pages.")
            self.page += 1
        return fresh
