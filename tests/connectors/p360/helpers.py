"""Plain SIF calls to the Public 360 sandbox (no connector code), so tests check outcomes in 360 itself."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.common import control_headers
from sandbox.procs import Proc

__all__ = ["P360Direct"]


class P360Direct:
    def __init__(self, proc: Proc) -> None:
        self.root = str(proc.url)
        self.client = httpx.Client(base_url=proc.extra["base_url"] + "/", timeout=10.0,
                                   params={"authkey": proc.extra["auth_key"]})

    def call(self, service: str, method: str, **parameter: Any) -> dict[str, Any]:
        response = self.client.post(f"{service}/{method}", json={"parameter": parameter})
        response.raise_for_status()
        data = dict(response.json())
        assert data["Successful"], data["ErrorMessage"]
        return data

    def cases(self, **criteria: Any) -> list[dict[str, Any]]:
        return list(self.call("CaseService", "GetCases", **criteria)["Cases"])

    def documents(self, **criteria: Any) -> list[dict[str, Any]]:
        return list(self.call("DocumentService", "GetDocuments", IncludeFiles=True, IncludeCustomFields=True,
                              **criteria)["Documents"])

    def contact_persons(self, external_id: str) -> list[dict[str, Any]]:
        return list(self.call("ContactService", "GetContactPersons", ExternalId=external_id)["ContactPersons"])

    def edit_contact(self, recno: int, **changes: Any) -> None:
        """A person in 360 fills in more about a contact."""
        self.edit("contacts", recno, **changes)

    def edit(self, table: str, recno: int, **changes: Any) -> None:
        """Change a stored record behind the API's back (planted drift)."""
        response = httpx.patch(f"{self.root}/_sandbox/{table}/{recno}", headers=control_headers(), json=changes)
        response.raise_for_status()

    def delete(self, table: str, recno: int) -> None:
        response = httpx.delete(f"{self.root}/_sandbox/{table}/{recno}", headers=control_headers())
        assert response.status_code == 204, response.text

    def arm(self, **fault: Any) -> None:
        response = httpx.post(f"{self.root}/_sandbox/faults", headers=control_headers(), json=fault)
        assert response.status_code == 201, response.text

    def injected(self, kind: str) -> int:
        stats = httpx.get(f"{self.root}/_sandbox/faults/stats", headers=control_headers()).json()
        return int(stats["injected"].get(kind, 0))

    def clear_faults(self) -> None:
        httpx.delete(f"{self.root}/_sandbox/faults", headers=control_headers())
