"""Settings for the CalDAV calendar connector (group rooms as resource calendars)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from hub.config import ConnectorConfig

__all__ = ["CaldavConfig", "ROOMS_NAMESPACE"]

ROOMS_NAMESPACE = "https://tjenesteplattform.oslomet.no/ns/rooms"


class CaldavConfig(ConnectorConfig):
    base_url: str = Field(description="CalDAV server root, e.g. http://127.0.0.1:8706 (Radicale); "
                                      "calendar paths are relative to it.")
    username: str = Field(description="The hub's CalDAV account (HTTP Basic).")
    password: SecretStr = Field(description="Password of the hub's CalDAV account.")
    calendar_home: str = Field("/hub/", description="Collection that holds one calendar per group room.")
    rooms_namespace: str = Field(ROOMS_NAMESPACE, description="XML namespace of the room properties "
                                 "(room-id, capacity, building) on each room calendar.")
    slot_collection_prefix: str = Field("room-slots-", description="Name prefix of the calendars under the home "
                                        "that hold the hub's per-slot reservation markers, one per room and day "
                                        "(<prefix><room>-<YYYYMMDD>; created when missing, deleted once the day has "
                                        "ended; not rooms).")
    slots_collection: str = Field("room-slots", description="The old single calendar of slot markers (before "
                                  "issue 12): no longer written; its markers still hold their slots until they "
                                  "end, then the hub's prune deletes it.")
    archive_prefix: str = Field("room-archive-", description="Name prefix of the calendars under the home that "
                                "keep the bookings that have ended, one per room and month "
                                "(<prefix><room>-<YYYYMM>; not rooms). The rooms batch moves them there, so that a "
                                "room calendar holds only today's and future bookings.")
    archive_ended: bool = Field(True, description="Move the bookings of days that have ended to the archive "
                                "calendars. False keeps every booking in its room calendar; on Radicale each "
                                "booking then costs more as history grows.")
    archive_batch: int = Field(50, ge=1, description="The most bookings one prune moves to the archive per room "
                               "(a long history moves over several runs of the rooms batch; on Radicale a move "
                               "takes ~50 ms, so 50 per room keeps a run's prune to seconds).")
    slot_minutes: int = Field(15, ge=1, le=60, description="Booking grid: bookings start and end on "
                              "multiples of this many minutes; one marker per room and slot.")
    slot_wait_seconds: float = Field(3.0, ge=0, description="How long a booking waits for another booking "
                                     "in progress that holds a slot it wants, before giving up (Conflict).")
    stale_slot_seconds: float = Field(120.0, gt=0, description="A slot marker older than this whose booking "
                                      "does not exist is left over from a crashed attempt and may be taken.")

    @field_validator("calendar_home")
    @classmethod
    def _slashes(cls, value: str) -> str:
        return "/" + value.strip("/") + "/" if value.strip("/") else "/"

    @field_validator("slot_minutes")
    @classmethod
    def _divides_hour(cls, value: int) -> int:
        if 60 % value:
            raise ValueError("slot_minutes must divide 60 (5, 10, 15, 20, 30, 60...)")
        return value
