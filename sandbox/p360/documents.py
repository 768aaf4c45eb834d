"""``DocumentService`` and ``FileService`` (SIF manual §5–6; reference §3).

- CreateDocument needs ``Title``, ``Category``, ``Status`` and the case (``CaseNumber`` or
  ``CaseExternalId``); a closed case takes no new documents. The document number is the
  case number and a sequence per case: ``26/00012-3``.
- ``Contacts`` must be existing contacts; ``UnregisteredContacts`` need ``ContactName``;
  ``IsUnofficial`` is refused together with AccessCode ``U``.
- ``Files``: ``Title`` and ``Format`` required, data as ``Base64Data``; a title with
  ``"``, ``<`` or ``>`` is "Illegal character in path". The files are part of the one
  transaction: a document never exists without them.
- Dates: DocumentDate ≤ DispatchedDate ≤ JournalDate.
- There is **no document external id**: the classic contract has none. Known custom
  fields (``AdditionalFields``) are kept, unknown ones silently dropped.
- GetDocuments answers ``Title`` = the full title (``UnofficialTitle`` if one was given)
  and ``OfficialTitle`` = the public one, as 360 reads them back.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.p360.cases import LOOKUP_DEFAULT_TYPE as LOOKUP_CASE_TYPE
from sandbox.p360.cases import access_of, custom_fields_of, external_id, find_case
from sandbox.p360.contacts import resolve_contact
from sandbox.p360.envelope import SifError, flag, get, like, ok, page, text, validation
from sandbox.p360.store import (
    ACCESS_CODE,
    CLOSED_CASE,
    CONTACT_ROLE,
    DOCUMENT_ARCHIVE,
    DOCUMENT_CATEGORY,
    DOCUMENT_STATUS,
    JOURNAL_TYPE,
    P360Store,
    sif_now,
)

__all__ = ["DocumentService", "FileService"]

OSLO = ZoneInfo("Europe/Oslo")  # 360 dates are Norwegian calendar days


def _day(value: str | None, name: str, tx: str) -> date | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
    except ValueError:
        raise validation(tx, f"{name} is not a valid date. {name}=$))'{value}'") from None


def _file(p: dict[str, Any], tx: str) -> dict[str, Any]:
    title, fmt = text(p, "Title"), text(p, "Format")
    if title is None or fmt is None:
        raise validation(tx, "File Title and Format are mandatory.")
    if any(c in title for c in '"<>'):
        raise validation(tx, f"Illegal character in path. Title=$))'{title}'")
    data = text(p, "Base64Data") or text(p, "Data")
    if data is None:
        raise validation(tx, f"File '{title}' has no data (Base64Data, Data or UploadedFileReference).")
    try:
        content = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise validation(tx, f"File '{title}': Base64Data is not valid base64.") from None
    return {"Title": title, "Format": fmt, "Base64Data": base64.b64encode(content).decode("ascii"),
            "Size": len(content), "RelationTypeCode": text(p, "RelationType") or "H",
            "VersionFormatCode": text(p, "VersionFormat") or "P", "StatusCode": text(p, "Status") or "F",
            "CategoryCode": text(p, "Category") or "1", "AccessCodeCode": text(p, "AccessCode"),
            "Note": text(p, "Note")}


def file_out(f: dict[str, Any], with_data: bool, web_root: str) -> dict[str, Any]:
    out = {k: v for k, v in f.items() if k != "Base64Data"}
    out["URL"] = f"{web_root}/locator/DMS/File/Details/{f['Recno']}"
    if with_data:
        out["Base64Data"] = f["Base64Data"]
    return out


class DocumentService:
    def __init__(self, store: P360Store, web_root: str) -> None:
        self.store = store
        self.web_root = web_root

    def CreateDocument(self, p: dict[str, Any], user: str) -> dict[str, Any]:  # noqa: N802
        tx = "CreateDocumentTransaction"
        title = text(p, "Title")
        for name in ("Title", "Category", "Status"):
            if text(p, name) is None:
                raise validation(tx, f"{name} is mandatory.")
        category = DOCUMENT_CATEGORY.find(text(p, "Category"))
        if category is None:
            raise validation(tx, f"Category is not valid. Category=$))'{text(p, 'Category')}'")
        status = DOCUMENT_STATUS.find(text(p, "Status"))
        if status is None:
            raise validation(tx, f"Status is not valid. Status=$))'{text(p, 'Status')}'")
        archive = DOCUMENT_ARCHIVE.find(text(p, "Archive") or "Saksdokument")
        if archive is None:
            raise validation(tx, f"Archive is not valid. Archive=$))'{text(p, 'Archive')}'")
        access, paragraph = access_of(p, tx)
        document_date = _day(text(p, "DocumentDate"), "DocumentDate", tx)
        dispatched = _day(text(p, "DispatchedDate"), "DispatchedDate", tx)
        journal = _day(text(p, "JournalDate"), "JournalDate", tx) or datetime.now(OSLO).date()  # 360 runs in Norway
        if (document_date and dispatched and document_date > dispatched) or (dispatched and dispatched > journal):
            raise validation(tx, "The dates must satisfy DocumentDate <= DispatchedDate <= JournalDate.")
        files = [_file(f, tx) for f in get(p, "Files") or [] if isinstance(f, dict)]
        with self.store.lock:
            if text(p, "CaseNumber") is None and external_id(get(p, "CaseExternalId"), LOOKUP_CASE_TYPE) is None:
                raise validation(tx, "CaseNumber or CaseExternalId is mandatory.")
            case = find_case(self.store, p, external_key="CaseExternalId")
            if case is None:
                raise SifError(f"Case not found. CaseNumber=$))'{text(p, 'CaseNumber') or ''}'")
            if case["Status"] in CLOSED_CASE and user != "arkivar":
                raise validation(tx, f"Case {case['CaseNumber']} is closed; documents can only be added by an "
                                     "archivist.")
            contacts = self._contacts(p, tx, access)
            stored_case = self.store.table("cases")[str(case["Recno"])]
            stored_case["DocumentSequence"] = int(stored_case.get("DocumentSequence", 0)) + 1
            now = datetime.now()
            recno = self.store.next_recno()
            file_recnos = []
            for f in files:
                file_recno = self.store.next_recno()
                self.store.table("files")[str(file_recno)] = {"Recno": file_recno, "DocumentRecno": recno,
                                                             "LastChangedDate": sif_now(now), **f}
                file_recnos.append(file_recno)
            document = {
                "Recno": recno, "DocumentNumber": f"{case['CaseNumber']}-{stored_case['DocumentSequence']}",
                "CaseRecno": case["Recno"], "CaseNumber": case["CaseNumber"], "Title": title,
                "UnofficialTitle": text(p, "UnofficialTitle") or title, "Category": category[1],
                "Status": status[1], "Archive": archive[1], "AccessCode": access,
                "Paragraph": paragraph or (case.get("Paragraph") if access else None),
                "DocumentDate": sif_now(datetime.combine(document_date, datetime.min.time())) if document_date else "",
                "DispatchedDate": sif_now(datetime.combine(dispatched, datetime.min.time())) if dispatched else "",
                "JournalDate": sif_now(datetime.combine(journal, datetime.min.time())),
                "Contacts": contacts, "Files": file_recnos, "Notes": text(p, "Notes"),
                "SendersReference": text(p, "SendersReference"), "CustomFields": custom_fields_of(p, "document"),
                "Remarks": [dict(r) for r in get(p, "Remarks") or [] if isinstance(r, dict)],
                "CreatedDate": sif_now(now), "LastChangedDate": sif_now(now), "CreatedBy": user,
            }
            self.store.table("documents")[str(recno)] = document
            self.store.save()
        return ok(Recno=recno, DocumentNumber=document["DocumentNumber"])

    def _contacts(self, p: dict[str, Any], tx: str, access: str | None) -> list[dict[str, Any]]:
        out = []
        for item in get(p, "Contacts") or []:
            if not isinstance(item, dict):
                continue
            role = CONTACT_ROLE.find(text(item, "Role") or "Kontakt")
            if role is None:
                raise validation(tx, f"Role is not valid. Role=$))'{text(item, 'Role')}'")
            unofficial = bool(get(item, "IsUnofficial"))
            if unofficial and (access or "U") == "U":
                raise validation(tx, "IsUnofficial cannot be set on a contact of a document with AccessCode U.")
            contact = resolve_contact(self.store, item, tx)
            address = contact.get("PostAddress") or contact.get("PrivateAddress") or {}
            out.append({"Role": role[2], "ContactRecno": contact["Recno"], "SearchName": contact["SearchName"],
                        "ReferenceNumber": contact.get("PersonalIdNumber") or contact.get("EnterpriseNumber") or "",
                        "ExternalId": contact.get("ExternalId") or contact.get("ExternalID") or "",
                        "Email": contact.get("Email") or "", "Address": (address or {}).get("StreetAddress", ""),
                        "ZipCode": (address or {}).get("ZipCode", ""), "ZipPlace": (address or {}).get("ZipPlace", ""),
                        "Country": (address or {}).get("Country", ""), "IsUnofficial": unofficial,
                        "DispatchChannel": text(item, "DispatchChannel") or ""})
        for item in get(p, "UnregisteredContacts") or []:
            if not isinstance(item, dict):
                continue
            if text(item, "ContactName") is None:
                raise validation(tx, "ContactName is mandatory on an unregistered contact.")
            role = CONTACT_ROLE.find(text(item, "Role") or "Kontakt")
            if role is None:
                raise validation(tx, f"Role is not valid. Role=$))'{text(item, 'Role')}'")
            out.append({"Role": role[2], "ContactRecno": None, "SearchName": text(item, "ContactName"),
                        "ReferenceNumber": text(item, "ReferenceNumber") or "", "ExternalId": "",
                        "Email": text(item, "Email") or "", "Address": text(item, "Address") or "",
                        "ZipCode": text(item, "ZipCode") or "", "ZipPlace": text(item, "ZipPlace") or "",
                        "Country": text(item, "Country") or "", "IsUnofficial": bool(get(item, "IsUnofficial")),
                        "DispatchChannel": ""})
        return out

    def _out(self, d: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
        category = DOCUMENT_CATEGORY.find(d["Category"])
        status = DOCUMENT_STATUS.find(d["Status"])
        archive = DOCUMENT_ARCHIVE.find(d["Archive"])
        access = ACCESS_CODE.find(d.get("AccessCode") or "U")
        journal_type = DOCUMENT_CATEGORY.extra.get(d["Category"], "N")
        case = self.store.table("cases").get(str(d["CaseRecno"])) or {}
        out: dict[str, Any] = {
            "Recno": d["Recno"], "DocumentNumber": d["DocumentNumber"], "CaseNumber": d["CaseNumber"],
            "CaseRecno": d["CaseRecno"], "CaseExternalId": case.get("ExternalId"),
            "Title": d["UnofficialTitle"], "OfficialTitle": d["Title"],
            "DocumentDate": d["DocumentDate"], "JournalDate": d["JournalDate"], "DispatchedDate": d["DispatchedDate"],
            "CreatedDate": d["CreatedDate"], "LastChangedDate": d["LastChangedDate"],
            "Category": {"Recno": category[0], "Code": category[1], "Description": category[2]} if category else None,
            "Type": {"Recno": 0, "Code": journal_type, "Description": JOURNAL_TYPE[journal_type]},
            "StatusCode": d["Status"], "StatusDescription": status[2] if status else "",
            "AccessCodeCode": access[1] if access else "", "AccessCodeDescription": access[2] if access else "",
            "Paragraph": d.get("Paragraph") or "", "Contacts": d["Contacts"], "Notes": d.get("Notes") or "",
            "DocumentArchive": {"Recno": archive[0], "Code": archive[1], "Description": archive[2]} if archive else None,
            "URL": f"{self.web_root}/locator/DMS/Document/Details/Simplified/61000?module=Document&recno={d['Recno']}",
        }
        if flag(p, "IncludeFiles") or flag(p, "IncludeFileData"):
            files = self.store.table("files")
            out["Files"] = [file_out(files[str(r)], flag(p, "IncludeFileData"), self.web_root) for r in d["Files"]
                            if str(r) in files]
        if flag(p, "IncludeCustomFields"):
            out["CustomFields"] = [{"Name": k, "Value": v} for k, v in d.get("CustomFields", {}).items()]
        if flag(p, "IncludeRemarks"):
            out["Remarks"] = d.get("Remarks", [])
        return out

    def GetDocuments(self, p: dict[str, Any], user: str) -> dict[str, Any]:  # noqa: N802
        criteria = ("Recno", "DocumentNumber", "CaseNumber", "CaseExternalId", "Title", "AdditionalFields",
                    "ContactRecnos", "ContactReferenceNumber")
        if not any(get(p, c) not in (None, "", [], {}) for c in criteria):
            raise SifError("At least one search criterion must be specified.")
        recno, number, case_number = text(p, "Recno"), text(p, "DocumentNumber"), text(p, "CaseNumber")
        title, reference = text(p, "Title"), text(p, "ContactReferenceNumber")
        wanted_fields = {str(text(f, "Name")): str(get(f, "Value")) for f in get(p, "AdditionalFields") or []
                         if isinstance(f, dict) and text(f, "Name")}
        with self.store.lock:
            case_recno = None
            if get(p, "CaseExternalId"):
                case = find_case(self.store, {"ExternalId": get(p, "CaseExternalId")})
                case_recno = case["Recno"] if case else -1
            found = [dict(d) for d in self.store.table("documents").values()
                     if (recno is None or str(d["Recno"]) == recno)
                     and (number is None or d["DocumentNumber"] == number)
                     and (case_number is None or d["CaseNumber"] == case_number)
                     and (case_recno is None or d["CaseRecno"] == case_recno)
                     and (title is None or like(title, d["Title"]) or like(title, d["UnofficialTitle"]))
                     and (reference is None or any(c["ReferenceNumber"] == reference for c in d["Contacts"]))
                     and all(d.get("CustomFields", {}).get(k) == v for k, v in wanted_fields.items())]
            descending = (text(p, "SortingCriterion") or "").lower() == "recnodescending"
            found.sort(key=lambda d: int(d["Recno"]), reverse=descending)
            chosen, total, pages = page(p, found, "MaxReturnedDocuments")
            return ok(Documents=[self._out(d, p) for d in chosen], TotalCount=total, TotalPageCount=pages)

    def UpdateDocument(self, p: dict[str, Any], user: str) -> dict[str, Any]:  # noqa: N802
        """Add files or contacts, change the status (``U`` cancels); files are never changed or removed."""
        tx = "UpdateDocumentTransaction"
        number = text(p, "DocumentNumber")
        if number is None:
            raise validation(tx, "DocumentNumber is mandatory.", "UPDATESTATEMENT")
        with self.store.lock:
            document = next((d for d in self.store.table("documents").values() if d["DocumentNumber"] == number), None)
            if document is None:
                raise SifError(f"Document not found. DocumentNumber=$))'{number}'")
            if get(p, "Status") is not None:
                status = DOCUMENT_STATUS.find(text(p, "Status"))
                if status is None:
                    raise validation(tx, f"Status is not valid. Status=$))'{text(p, 'Status')}'", "UPDATESTATEMENT")
                document["Status"] = status[1]
            for f in [_file(f, tx) for f in get(p, "Files") or [] if isinstance(f, dict)]:
                file_recno = self.store.next_recno()
                self.store.table("files")[str(file_recno)] = {"Recno": file_recno, "DocumentRecno": document["Recno"],
                                                             "LastChangedDate": sif_now(), **f}
                document["Files"].append(file_recno)
            document["Contacts"] += self._contacts(p, tx, document.get("AccessCode"))
            document["LastChangedDate"] = sif_now()
            self.store.save()
        return ok(Recno=document["Recno"], DocumentNumber=document["DocumentNumber"])


class FileService:
    def __init__(self, store: P360Store, web_root: str) -> None:
        self.store = store
        self.web_root = web_root

    def GetFileWithMetadata(self, p: dict[str, Any], user: str) -> dict[str, Any]:  # noqa: N802
        recno = text(p, "Recno")
        with self.store.lock:
            found = self.store.table("files").get(recno or "")
        if found is None:
            raise SifError(f"File not found. Recno=$))'{recno or ''}'")
        return ok(File=file_out(found, flag(p, "IncludeFileData"), self.web_root))
