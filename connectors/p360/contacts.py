"""Correspondents as 360 contacts, synchronised without wiping what 360 already holds.

``ContactService/SynchronizeContactPerson`` is an upsert keyed on ``ExternalId`` — and it
**clears every property that is null, blank or left out**. So a correspondent is first read
(``GetContactPersons``), the stored values are kept wherever the hub has nothing to say,
and the upsert is sent only when something actually changes. A person is keyed
``hub:<e-mail, lower case>`` (the hub knows no fødselsnummer for correspondents and must not
send one). A correspondent without an e-mail address, or with a one-word name, is written
as an ``UnregisteredContacts`` element of the document instead.
"""

from __future__ import annotations

from typing import Any

from connectors.p360.rpc import SYSTEM, SifRpc
from hub.errors import InvalidInput
from hub.ports.archive import Correspondent

__all__ = ["ContactSync", "SYNC_FIELDS", "contact_key"]

# What SynchronizeContactPerson (re)writes — every one of them is cleared when not sent.
SYNC_FIELDS = ("FirstName", "MiddleName", "LastName", "Email", "PhoneNumber", "MobilePhone", "PrivateAddress",
               "PostAddress", "WorkAddress", "Categories", "DataSource", "Active")


def contact_key(email: str) -> str:
    return f"hub:{email.strip().lower()}"


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return all(_blank(v) for v in value.values())
    if isinstance(value, list):
        return not value
    return str(value).strip() == ""


def _wanted(person: Correspondent) -> dict[str, Any]:
    *first, last = person.name.split()
    address = {"StreetAddress": person.address, "ZipCode": person.postal_code, "ZipPlace": person.city}
    wanted: dict[str, Any] = {"FirstName": " ".join(first), "LastName": last, "Email": person.email}
    if not _blank(address):
        wanted["PostAddress"] = {**{k: v for k, v in address.items() if v}, "Country": "NOR"}
    return wanted


class ContactSync:
    def __init__(self, rpc: SifRpc) -> None:
        self.rpc = rpc

    async def stored(self, email: str) -> dict[str, Any] | None:
        data = await self.rpc.read("ContactService", "GetContactPersons", {"ExternalId": contact_key(email)})
        found = [c for c in data.get("ContactPersons") or [] if isinstance(c, dict)
                 and str(c.get("ExternalId") or c.get("ExternalID") or "") == contact_key(email)]
        return min(found, key=lambda c: int(c.get("Recno") or 0)) if found else None

    async def ensure(self, person: Correspondent) -> int | None:
        """The contact's recno, after a sync that keeps stored values; None = write it unregistered."""
        if not person.email or len(person.name.split()) < 2:
            return None
        stored = await self.stored(person.email)
        merged = {k: v for k, v in (stored or {}).items() if k in SYNC_FIELDS and not _blank(v)}
        for key, value in _wanted(person).items():
            if _blank(value):
                continue
            if isinstance(value, dict) and isinstance(merged.get(key), dict):
                value = {**merged[key], **value}
            merged[key] = value
        if stored is not None and all(stored.get(k) == v for k, v in merged.items()):
            return int(stored["Recno"])  # nothing new: no upsert, nothing to wipe
        result = await self.rpc.read("ContactService", "SynchronizeContactPerson",
                                     {"ExternalId": contact_key(person.email), **merged})  # an upsert: retry-safe
        if not result.get("Recno"):
            raise InvalidInput("SynchronizeContactPerson answered no Recno", system=SYSTEM)
        return int(result["Recno"])
