"""Walking TOPdesk's paged lists safely.

TOPdesk pages by offset (``start``/``page_size``; Asset Management ``pageStart``/
``pageSize``) and says whether more follow in the *status code*: **206 Partial Content**
means ask again, **200** means this was the last page, **204** means nothing matched. A
206 with an empty page is refused (it would ask for the same offset for ever).

The offset moving on by the items received, loop detection, skipping repeated items and
the ``max_pages`` bound are the hub's (:class:`hub.paging.OffsetPaginator`).
"""

from __future__ import annotations

from typing import Any

from hub.errors import PermanentError
from hub.paging import OffsetPaginator

__all__ = ["Pager"]


class Pager(OffsetPaginator):
    def __init__(self, page_size: int = 100, max_pages: int = 200, system: str = "topdesk", *,
                 start_param: str = "start", size_param: str = "page_size") -> None:
        super().__init__(system=system, max_pages=max_pages)
        self.page_size = page_size
        self.start_param = start_param
        self.size_param = size_param

    def params(self) -> dict[str, int]:
        return {self.start_param: self.current, self.size_param: self.page_size}

    def accept(self, status: int, items: list[Any]) -> list[dict[str, Any]]:
        """Take one page (its status code and items); return the new items."""
        if status == 204:
            return self.next_offset([], more=False)
        if status not in (200, 206):
            raise PermanentError(f"page at offset {self.current} answered {status}, not 200/206", system=self.system)
        if status == 206 and not any(isinstance(i, dict) for i in items):
            raise PermanentError(f"TOPdesk answered 206 Partial Content with an empty page at offset {self.current}",
                                 system=self.system, hint="Report this TOPdesk behaviour; the search was not "
                                                          "completed.")
        return self.next_offset(items, more=status == 206)
