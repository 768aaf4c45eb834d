"""The TOPdesk sandbox's data: one JSON file in ``--data-dir``, seeded on first start.

Every change is written back at once (to a temporary file that then replaces the store),
so a restart keeps incidents, persons, assets and their assignments. One lock guards
read-modify-write sequences, which is what makes ``If-Match`` on assets atomic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sandbox.common import JsonFileStore
from sandbox.topdesk.seed import seed

__all__ = ["TopdeskStore", "td_timestamp", "parse_td_timestamp"]


def td_timestamp(moment: datetime | None = None) -> str:
    """TOPdesk's timestamp format, in UTC: ``2026-12-01T15:00:00.000+0000``."""
    moment = (moment or datetime.now(UTC)).astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_td_timestamp(value: str) -> datetime:
    """Accepts ``...+0000``, ``...Z`` and ``...+01:00``; a value without offset is refused."""
    text = value.strip().replace("Z", "+00:00")
    if len(text) >= 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = text[:-2] + ":" + text[-2:]
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        raise ValueError("a timestamp needs an offset")
    return parsed


class TopdeskStore(JsonFileStore):
    filename = "topdesk.json"

    def fresh(self) -> dict[str, Any]:
        return seed(td_timestamp())

    def by_name(self, table: str, key: str, value: str) -> dict[str, Any] | None:
        """First record whose ``key`` equals ``value`` (case-insensitive, as TOPdesk)."""
        for record in self.table(table).values():
            if str(record.get(key, "")).casefold() == value.casefold():
                return dict(record)
        return None

    def next_incident_number(self, now: datetime) -> str:
        """``I 2611 001``: prefix, year and month (YYMM), then a sequence per month."""
        period = now.strftime("%y%m")
        counters = self.table("counters")
        counters[period] = int(counters.get(period, 0)) + 1
        return f"I {period} {counters[period]:03d}"

    def counts(self) -> dict[str, int]:
        return {name: len(value) for name, value in self.data.items() if isinstance(value, dict)}
