"""The group rooms the sandbox provisions, one resource calendar each.

The same ids are the answer options of the Nettskjema form "Bestille grupperom"
(:mod:`sandbox.nettskjema.forms`), so nobody spells a room id twice. The hub itself reads
rooms from the CalDAV server (WebDAV properties in :data:`ROOMS_NS`), never from here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SandboxRoom", "ROOMS", "ROOMS_NS", "room_by_id"]

# Namespace of the room properties on each calendar collection (dead WebDAV properties,
# visible to any client with PROPFIND): room-id, capacity, building, campus.
ROOMS_NS = "https://tjenesteplattform.oslomet.no/ns/rooms"


@dataclass(frozen=True)
class SandboxRoom:
    id: str
    name: str
    building: str
    campus: str
    capacity: int

    @property
    def collection(self) -> str:
        """Path segment of the room's calendar under the calendar home."""
        return self.id.lower()


ROOMS: tuple[SandboxRoom, ...] = (
    SandboxRoom("P35-U101", "Grupperom U101", "Pilestredet 35", "Pilestredet", 4),
    SandboxRoom("P35-U102", "Grupperom U102", "Pilestredet 35", "Pilestredet", 6),
    SandboxRoom("P46-G210", "Grupperom G210", "Pilestredet 46", "Pilestredet", 8),
    SandboxRoom("P52-A301", "Grupperom A301", "Pilestredet 52", "Pilestredet", 12),
    SandboxRoom("KJ-B115", "Grupperom B115", "Kjeller, bygg B", "Kjeller", 4),
    SandboxRoom("KJ-B120", "Grupperom B120", "Kjeller, bygg B", "Kjeller", 8),
)


def room_by_id(room_id: str) -> SandboxRoom | None:
    return next((r for r in ROOMS if r.id.lower() == room_id.lower()), None)
