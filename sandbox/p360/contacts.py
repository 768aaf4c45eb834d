"""``ContactService``: private persons, contact persons and enterprises (SIF manual §2; reference §3).

The ``Synchronize*`` methods are upserts: ``SynchronizePrivatePerson`` keyed on
``PersonalIdNumber``, ``SynchronizeContactPerson`` on ``ExternalId``,
``SynchronizeEnterprise`` on ``EnterpriseNumber``. **Every property of the contact that is
null, blank or left out is cleared** (except CustomNo1–3), exactly the trap the manual
warns of: a client must send what it wants kept. Duplicates: the lowest recno is updated.

Documents and cases refer to contacts as ``ReferenceNumber: "recno:<n>"`` (or a
fødselsnummer / organisasjonsnummer) or ``ExternalId``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.p360.envelope import SifError, get, ok, text, validation
from sandbox.p360.store import P360Store, sif_now

__all__ = ["ContactService", "resolve_contact"]

_PERSON = ("FirstName", "MiddleName", "LastName", "Email", "PhoneNumber", "MobilePhone", "PrivateAddress",
           "PostAddress", "WorkAddress", "Categories", "DataSource", "Active")
_FIELDS = {
    "PrivatePerson": ("PersonalIdNumber", "ExternalID", *_PERSON),
    "ContactPerson": ("ExternalId", *_PERSON),
    "Enterprise": ("EnterpriseNumber", "Name", "PostAddress", "OfficeAddress", "Email", "PhoneNumber", "Web",
                   "ParentEnterpriseNumber", "Categories", "Active"),
}
_KEYS = {"PrivatePerson": "PersonalIdNumber", "ContactPerson": "ExternalId", "Enterprise": "EnterpriseNumber"}
_REQUIRED = {"PrivatePerson": ("PersonalIdNumber", "FirstName", "LastName"),
             "ContactPerson": ("ExternalId", "FirstName", "LastName"),
             "Enterprise": ("EnterpriseNumber", "Name")}
_KEPT = ("CustomNo1", "CustomNo2", "CustomNo3")


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return all(_blank(v) for v in value.values())
    if isinstance(value, list):
        return not value
    return str(value).strip() == ""


def _search_name(contact: dict[str, Any]) -> str:
    if contact["Kind"] == "Enterprise":
        return str(contact.get("Name") or "")
    return " ".join(str(contact[k]) for k in ("FirstName", "MiddleName", "LastName") if contact.get(k))


def resolve_contact(store: P360Store, item: dict[str, Any], transaction: str) -> dict[str, Any]:
    """The stored contact a ``Contacts[]`` element names, or a validation error."""
    reference, external = text(item, "ReferenceNumber"), text(item, "ExternalId")
    contacts = sorted(store.table("contacts").values(), key=lambda c: int(c["Recno"]))
    for value in (reference, external):
        if value and value.lower().startswith("recno:"):
            found = store.table("contacts").get(value[6:].strip())
            if found:
                return dict(found)
    for contact in contacts:
        if reference and reference in (contact.get("PersonalIdNumber"), contact.get("EnterpriseNumber")):
            return dict(contact)
        if external and external in (contact.get("ExternalId"), contact.get("ExternalID")):
            return dict(contact)
    raise validation(transaction, f"Contact not found. ReferenceNumber=$))'{reference or ''}' "
                                  f"ExternalId=$))'{external or ''}'")


class ContactService:
    def __init__(self, store: P360Store) -> None:
        self.store = store

    def _synchronize(self, kind: str, p: dict[str, Any]) -> dict[str, Any]:
        tx = f"Synchronize{kind}Transaction"
        for name in _REQUIRED[kind]:
            if text(p, name) is None:
                raise validation(tx, f"{name} is mandatory.")
        key = str(text(p, _KEYS[kind]))
        with self.store.lock:
            existing = sorted((c for c in self.store.table("contacts").values()
                               if c["Kind"] == kind and c.get(_KEYS[kind]) == key), key=lambda c: int(c["Recno"]))
            now = sif_now(datetime.now())
            if existing:
                contact = self.store.table("contacts")[str(existing[0]["Recno"])]
            else:
                recno = self.store.next_recno()
                contact = {"Recno": recno, "Kind": kind, "CreatedDate": now}
                self.store.table("contacts")[str(recno)] = contact
            for name in _FIELDS[kind]:  # null, blank or left out: cleared
                value = get(p, name)
                contact[name] = None if _blank(value) else value
            for name in _KEPT:
                if not _blank(get(p, name)):
                    contact[name] = get(p, name)
            contact["SearchName"] = _search_name(contact)
            contact["LastChangedDate"] = now
            self.store.save()
        return ok(Recno=contact["Recno"])

    def _get(self, kind: str, p: dict[str, Any], key: str, result: str) -> dict[str, Any]:
        recno, name, wanted = text(p, "Recno"), text(p, "Name"), text(p, key)
        if recno is None and name is None and wanted is None:
            raise SifError("At least one search criterion must be specified.")
        with self.store.lock:
            found = [dict(c) for c in sorted(self.store.table("contacts").values(), key=lambda c: int(c["Recno"]))
                     if c["Kind"] == kind and (recno is None or str(c["Recno"]) == recno)
                     and (wanted is None or str(c.get(key) or "").casefold() == wanted.casefold())
                     and (name is None or name.casefold() in str(c.get("SearchName", "")).casefold())]
        for contact in found:
            contact.pop("Kind", None)
        return ok(**{result: found, "TotalCount": len(found)})

    def SynchronizePrivatePerson(self, p: dict[str, Any], user: str) -> dict[str, Any]:  # noqa: N802
        return self._synchronize("PrivatePerson", p)

    def SynchronizeContactPerson(self, p: dict[str, Any], user: str) -> dict[str, Any]:  # noqa: N802
        return self._synchronize("ContactPerson", p)

    def SynchronizeEnterprise(self, p: dict[str, Any], user: str) -> dict[str, Any]:  # noqa: N802
        return self._synchronize("Enterprise", p)

    def GetPrivatePersons(self, p: dict[str, Any], user: str) -> dict[str, Any]:  # noqa: N802
        return self._get("PrivatePerson", p, "PersonalIdNumber", "PrivatePersons")

    def GetContactPersons(self, p: dict[str, Any], user: str) -> dict[str, Any]:  # noqa: N802
        return self._get("ContactPerson", p, "ExternalId", "ContactPersons")

    def GetEnterprises(self, p: dict[str, Any], user: str) -> dict[str, Any]:  # noqa: N802
        return self._get("Enterprise", p, "EnterpriseNumber", "Enterprises")
