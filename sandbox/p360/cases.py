"""``CaseService``: CreateCase, GetCases, UpdateCase (SIF manual §4; reference §3).

- ``ExternalId {Id, Type}`` is stored at CreateCase and unique within its Type. A missing
  Type defaults to ``"SI WS Case"`` when creating but ``"SIF WS Case"`` when looking up (the
  manual says both), so a client that leaves Type out does not find its own case again.
- ``Title`` is the public title; ``UnofficialTitle`` the full one (defaults to Title).
- A closing status (A, AS) needs ArchiveCodes; a closed case can only be changed by an
  archivist (``ADContextUser`` "arkivar").
- GetCases needs at least one criterion; ``Title`` is a LIKE pattern; paging by
  ``MaxReturnedCases`` and ``Page`` (from 0); ``Status`` comes back as its description.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sandbox.p360.envelope import SifError, flag, get, like, ok, page, text, validation
from sandbox.p360.store import (
    ACCESS_CODE,
    CASE_ROLE,
    CASE_STATUS,
    CASE_TYPE,
    CLOSED_CASE,
    CUSTOM_FIELDS,
    LAW,
    SUB_ARCHIVE,
    P360Store,
    sif_now,
)

__all__ = ["CaseService", "case_out", "external_id", "find_case", "LOOKUP_DEFAULT_TYPE"]

CREATE_DEFAULT_TYPE = "SI WS Case"
LOOKUP_DEFAULT_TYPE = "SIF WS Case"
ARCHIVIST = "arkivar"


def external_id(value: Any, default_type: str) -> tuple[str, str] | None:
    if not isinstance(value, dict):
        return None
    ident = text(value, "Id")
    if ident is None:
        return None
    return ident, text(value, "Type") or default_type


def find_case(store: P360Store, parameter: dict[str, Any], *, number_key: str = "CaseNumber",
              external_key: str = "ExternalId") -> dict[str, Any] | None:
    number = text(parameter, number_key)
    key = external_id(get(parameter, external_key), LOOKUP_DEFAULT_TYPE)
    for case in store.table("cases").values():
        if number and case["CaseNumber"] == number:
            return dict(case)
        if key and case.get("ExternalId") and _same_key(case["ExternalId"], key):
            return dict(case)
    return None


def _same_key(stored: dict[str, str], key: tuple[str, str]) -> bool:
    return stored["Id"] == key[0] and stored["Type"].casefold() == key[1].casefold()


def access_of(parameter: dict[str, Any], transaction: str) -> tuple[str | None, str | None]:
    code, paragraph = text(parameter, "AccessCode"), text(parameter, "Paragraph")
    if code is not None:
        row = ACCESS_CODE.find(code)
        if row is None:
            raise validation(transaction, f"AccessCode is not valid. AccessCode=$))'{code}'")
        code = row[1]
    if paragraph is not None and LAW.find(paragraph) is None:
        raise validation(transaction, f"Paragraph is not a valid value in table Law. Paragraph=$))'{paragraph}'")
    return code, paragraph


def custom_fields_of(parameter: dict[str, Any], entity: str) -> dict[str, str]:
    """Known custom fields only; unknown names are silently ignored (as SIF does)."""
    fields: dict[str, str] = {}
    for item in get(parameter, "AdditionalFields") or []:
        if isinstance(item, dict) and text(item, "Name") in CUSTOM_FIELDS[entity]:
            fields[str(text(item, "Name"))] = str(get(item, "Value") or "")
    return fields


def case_out(case: dict[str, Any], parameter: dict[str, Any], web_root: str) -> dict[str, Any]:
    sub = SUB_ARCHIVE.find(case["SubArchive"])
    access = ACCESS_CODE.find(case.get("AccessCode") or "U")
    kind = CASE_TYPE.find(case["CaseType"])
    out: dict[str, Any] = {
        "Recno": case["Recno"], "CaseNumber": case["CaseNumber"], "ExternalId": case.get("ExternalId"),
        "Title": case["Title"], "UnofficialTitle": case["UnofficialTitle"],
        "Status": CASE_STATUS.description(case["Status"]), "Date": case["CreatedDate"],
        "CreatedDate": case["CreatedDate"], "LastChangedDate": case["LastChangedDate"], "Notes": case.get("Notes") or "",
        "CaseTypeCode": kind[1] if kind else case["CaseType"], "CaseTypeDescription": kind[2] if kind else "",
        "SubArchive": str(sub[0]) if sub else "", "SubArchiveCode": sub[1] if sub else "",
        "AccessCodeCode": access[1] if access else "", "AccessCodeDescription": access[2] if access else "",
        "Paragraph": case.get("Paragraph") or "", "AccessGroup": case.get("AccessGroup") or "",
        "ArchiveCodes": case.get("ArchiveCodes", []), "URL": f"{web_root}/locator/DMS/Case/Details/Simplified/2?"
                                                              f"module=Case&subtype=2&recno={case['Recno']}",
    }
    if flag(parameter, "IncludeCaseContacts"):
        out["Contacts"] = case.get("Contacts", [])
    if flag(parameter, "IncludeCustomFields"):
        out["CustomFields"] = [{"Name": k, "Value": v} for k, v in case.get("CustomFields", {}).items()]
    return out


class CaseService:
    def __init__(self, store: P360Store, web_root: str) -> None:
        self.store = store
        self.web_root = web_root

    def CreateCase(self, p: dict[str, Any], user: str) -> dict[str, Any]:  # noqa: N802 (SIF's method names)
        tx = "CreateCaseTransaction"
        title = text(p, "Title")
        if title is None:
            raise validation(tx, "Title is mandatory.")
        status = CASE_STATUS.find(text(p, "Status") or "B")
        if status is None:
            raise validation(tx, f"Status is not valid. Status=$))'{text(p, 'Status')}'")
        sub = SUB_ARCHIVE.find(text(p, "SubArchive") or "Sakarkiv")
        if sub is None:
            raise validation(tx, f"SubArchive is not valid. SubArchive=$))'{text(p, 'SubArchive')}'")
        kind = CASE_TYPE.find(text(p, "CaseType") or "Sak")
        if kind is None:
            raise validation(tx, f"CaseType is not valid. CaseType=$))'{text(p, 'CaseType')}'")
        codes = [dict(c) for c in get(p, "ArchiveCodes") or [] if isinstance(c, dict)]
        if status[1] in CLOSED_CASE and not codes:
            raise validation(tx, "A case with a closing status must have at least one archive code.")
        access, paragraph = access_of(p, tx)
        key = external_id(get(p, "ExternalId"), CREATE_DEFAULT_TYPE)
        contacts = self._contacts(p, tx)
        with self.store.lock:
            if key and any(c.get("ExternalId") and _same_key(c["ExternalId"], key)
                           for c in self.store.table("cases").values()):
                raise validation(tx, f"A case with ExternalId {key[0]} of type {key[1]} already exists.")
            now = datetime.now()
            recno = self.store.next_recno()
            case = {
                "Recno": recno, "CaseNumber": self.store.next_case_number(now),
                "ExternalId": {"Id": key[0], "Type": key[1]} if key else None,
                "Title": title, "UnofficialTitle": text(p, "UnofficialTitle") or title, "Status": status[1],
                "CaseType": kind[1], "SubArchive": sub[1], "ArchiveCodes": codes, "AccessCode": access,
                "Paragraph": paragraph, "AccessGroup": text(p, "AccessGroup"), "Notes": text(p, "Notes"),
                "JournalUnit": text(p, "JournalUnit"), "Contacts": contacts,
                "CustomFields": custom_fields_of(p, "case"), "DocumentSequence": 0,
                "CreatedDate": sif_now(now), "LastChangedDate": sif_now(now), "CreatedBy": user,
            }
            if key and key[1] not in self.store.data["external_types"]:
                self.store.data["external_types"].append(key[1])  # code table "External type"
            self.store.table("cases")[str(recno)] = case
            self.store.save()
        return ok(Recno=recno, CaseNumber=case["CaseNumber"])

    def _contacts(self, p: dict[str, Any], tx: str) -> list[dict[str, Any]]:
        from sandbox.p360.contacts import resolve_contact

        out = []
        for item in get(p, "Contacts") or []:
            if not isinstance(item, dict):
                continue
            role = CASE_ROLE.find(text(item, "Role") or "Sakspart")
            if role is None:
                raise validation(tx, f"Role is not valid. Role=$))'{text(item, 'Role')}'")
            contact = resolve_contact(self.store, item, tx)
            out.append({"Recno": contact["Recno"], "ContactName": contact["SearchName"], "Role": role[2],
                        "Referencenumber": f"recno:{contact['Recno']}", "ContactType": contact["Kind"],
                        "IsUnofficial": bool(get(item, "IsUnofficial"))})
        return out

    def GetCases(self, p: dict[str, Any], user: str) -> dict[str, Any]:  # noqa: N802
        criteria = ("Recno", "CaseNumber", "ExternalId", "Title", "UnofficialTitle", "CaseType", "SubArchive",
                    "AdditionalFields", "ContactRecnos")
        if not any(get(p, c) not in (None, "", [], {}) for c in criteria):
            raise SifError("At least one search criterion must be specified.")
        recno, number = text(p, "Recno"), text(p, "CaseNumber")
        key = external_id(get(p, "ExternalId"), LOOKUP_DEFAULT_TYPE)
        title, unofficial = text(p, "Title"), text(p, "UnofficialTitle")
        sub = text(p, "SubArchive")
        wanted_fields = {str(text(f, "Name")): str(get(f, "Value")) for f in get(p, "AdditionalFields") or []
                         if isinstance(f, dict) and text(f, "Name")}
        with self.store.lock:
            cases = [dict(c) for c in self.store.table("cases").values()]
        found = [c for c in cases
                 if (recno is None or str(c["Recno"]) == recno)
                 and (number is None or c["CaseNumber"] == number)
                 and (key is None or (c.get("ExternalId") and _same_key(c["ExternalId"], key)))
                 and (title is None or like(title, c["Title"]))
                 and (unofficial is None or like(unofficial, c["UnofficialTitle"]))
                 and (sub is None or SUB_ARCHIVE.find(sub) == SUB_ARCHIVE.find(c["SubArchive"]))
                 and all(c.get("CustomFields", {}).get(k) == v for k, v in wanted_fields.items())]
        descending = (text(p, "SortCriterion") or "").lower() == "recnodescending"
        found.sort(key=lambda c: int(c["Recno"]), reverse=descending)
        chosen, total, pages = page(p, found, "MaxReturnedCases")
        return ok(Cases=[case_out(c, p, self.web_root) for c in chosen], TotalCount=total, TotalPageCount=pages)

    def UpdateCase(self, p: dict[str, Any], user: str) -> dict[str, Any]:  # noqa: N802
        tx = "UpdateCaseTransaction"
        with self.store.lock:
            found = find_case(self.store, p)
            if found is None:
                which = text(p, "CaseNumber") or (get(p, "ExternalId") or {}).get("Id")
                raise SifError(f"Case not found. CaseNumber or ExternalId '{which}' does not exist.")
            case = self.store.table("cases")[str(found["Recno"])]
            if case["Status"] in CLOSED_CASE and user != ARCHIVIST:
                raise validation(tx, f"Case {case['CaseNumber']} is closed and can only be updated by an "
                                     "archivist.", "UPDATESTATEMENT")
            codes = [dict(c) for c in get(p, "ArchiveCodes") or [] if isinstance(c, dict)]
            known = {(c.get("ArchiveCode"), c.get("ArchiveType")) for c in case["ArchiveCodes"]}
            new_codes = case["ArchiveCodes"] + [c for c in codes if (c.get("ArchiveCode"), c.get("ArchiveType"))
                                                not in known]  # appended; existing ones never change
            if get(p, "Status") is not None:
                status = CASE_STATUS.find(text(p, "Status"))
                if status is None:
                    raise validation(tx, f"Status is not valid. Status=$))'{text(p, 'Status')}'", "UPDATESTATEMENT")
                if status[1] in CLOSED_CASE and not new_codes:
                    raise validation(tx, "A case with a closing status must have at least one archive code.",
                                     "UPDATESTATEMENT")
                case["Status"] = status[1]
            for name in ("Title", "UnofficialTitle", "Notes"):  # omitted/null = unchanged, "" clears
                if get(p, name) is not None:
                    case[name] = str(get(p, name))
            if get(p, "AccessCode") is not None or get(p, "Paragraph") is not None:
                case["AccessCode"], case["Paragraph"] = access_of(p, tx)
            case["ArchiveCodes"] = new_codes
            case["Contacts"] = case.get("Contacts", []) + self._contacts(p, tx)  # added, never removed
            case["CustomFields"] = {**case.get("CustomFields", {}), **custom_fields_of(p, "case")}
            case["LastChangedDate"] = sif_now()
            self.store.save()
        return ok(Recno=case["Recno"], CaseNumber=case["CaseNumber"])
