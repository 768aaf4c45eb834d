"""Walking TOPdesk's paged lists safely.

TOPdesk pages by offset (``start``/``page_size``; Asset Management ``pageStart``/
``pageSize``) and says whether more follow in the *status code*: **206 Partial Content**
means ask again, **200** means this was the last page, **204** means nothing matched.

- the next offset is the current one plus the items actually received (a server that
  caps the page size still walks correctly);
- an item seen before is skipped; a non-empty page with nothing new, or a 206 with an
  empty page, means the server is looping — that raises instead of spinning;
- ``max_pages`` bounds the walk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hub.errors import PermanentError

__all__ = ["Pager"]


@dataclass
class Pager:
    page_size: int = 100
    max_pages: int = 200
    system: str = "topdesk"
    start_param: str = "start"
    size_param: str = "page_size"
    start: int = 0
    done: bool = False
    requests: int = 0
    _seen: set[str] = field(default_factory=set)

    def params(self) -> dict[str, int]:
        return {self.start_param: self.start, self.size_param: self.page_size}

    def accept(self, status: int, items: list[Any]) -> list[dict[str, Any]]:
        """Take one page (its status code and items); return the new items."""
        self.requests += 1
        if status == 204:
            self.done = True
            return []
        if status not in (200, 206):
            raise PermanentError(f"page at offset {self.start} answered {status}, not 200/206", system=self.system)
        records = [i for i in items if isinstance(i, dict)]
        fresh = []
        for record in records:
            key = str(record.get("id"))
            if key not in self._seen:
                self._seen.add(key)
                fresh.append(record)
        if records and not fresh:
            raise PermanentError(f"TOPdesk returned the page at offset {self.start} again (only items already "
                                 "seen); stopping a pagination loop", system=self.system,
                                 hint="Report this TOPdesk behaviour; the search was not completed.")
        if status == 200:
            self.done = True
            return fresh
        if not records:
            raise PermanentError(f"TOPdesk answered 206 Partial Content with an empty page at offset {self.start}",
                                 system=self.system, hint="Report this TOPdesk behaviour; the search was not "
                                                          "completed.")
        if self.requests >= self.max_pages:
            raise PermanentError(f"search has more than {self.max_pages} pages", system=self.system,
                                 hint="Narrow the search or raise max_pages.")
        self.start += len(records)
        return fresh
