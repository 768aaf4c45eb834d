"""Helpers for the TOPdesk connector tests: plain HTTP calls to the sandbox (no connector
code), so the tests check outcomes in TOPdesk itself."""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.common import control_headers
from sandbox.procs import Proc

__all__ = ["TopdeskDirect", "TIMINGS"]

TIMINGS: dict[str, float] = {}
"""Measured durations, printed at the end of the test session."""


class TopdeskDirect:
    def __init__(self, proc: Proc) -> None:
        self.root = str(proc.url)
        self.client = httpx.Client(base_url=proc.extra["base_url"] + "/", timeout=10.0,
                                   auth=(proc.extra["username"], proc.extra["app_password"]))

    @staticmethod
    def _list(response: httpx.Response) -> list[dict[str, Any]]:
        response.raise_for_status()
        return [] if response.status_code == 204 else list(response.json())

    def incidents_with_ref(self, ref: str) -> list[dict[str, Any]]:
        # Simple refs only (letters, digits, ':', '-'); the connector's quoting is tested elsewhere.
        return self._list(self.client.get("incidents", params={"query": f"optionalFields1.text1=={ref}",
                                                               "page_size": 100}))

    def incident(self, incident_id: str) -> dict[str, Any]:
        response = self.client.get(f"incidents/id/{incident_id}")
        response.raise_for_status()
        return dict(response.json())

    def create_incident(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.client.post("incidents", json={"caller": {"dynamicName": "Test"}, **body})
        assert response.status_code == 201, response.text
        return dict(response.json())

    def actions(self, incident_id: str) -> list[dict[str, Any]]:
        return self._list(self.client.get(f"incidents/id/{incident_id}/actions", params={"page_size": 100}))

    def persons(self, email: str) -> list[dict[str, Any]]:
        return self._list(self.client.get("persons", params={"query": f"email=={email}"}))

    def asset(self, asset_id: str) -> dict[str, Any]:
        response = self.client.get(f"assetmgmt/assets/{asset_id}")
        response.raise_for_status()
        data = dict(response.json()["data"])
        links = self.client.get(f"assetmgmt/assets/{asset_id}/assignments").json()["persons"]
        data["holders"] = [self.client.get(f"persons/id/{link['person']['id']}").json()["email"] for link in links]
        return data

    def claim(self, asset_id: str, *, holder: str | None, ref: str) -> None:
        """Another allocator's claim, written straight into TOPdesk."""
        response = self.client.patch(f"assetmgmt/assets/{asset_id}",
                                     json={"lifecycle-status": "Allocated", "hub-reference": ref})
        response.raise_for_status()
        if holder:
            self.assign(asset_id, holder)

    def assign(self, asset_id: str, holder: str) -> None:
        people = self.persons(holder)
        if not people:
            created = self.client.post("persons", json={"surName": holder.split("@")[0], "email": holder,
                                                        "branch": {"name": "OsloMet"}})
            created.raise_for_status()
            people = [created.json()]
        response = self.client.put(f"assetmgmt/assets/{asset_id}/assignments",
                                   json={"linkType": "person", "linkToId": people[0]["id"]})
        response.raise_for_status()

    def arm_fault(self, path: str, status: int, *, count: int = 1, retry_after: float | None = None,
                  method: str | None = None) -> None:
        response = httpx.post(f"{self.root}/_sandbox/faults", headers=control_headers(), json={
            "path": path, "status": status, "count": count, "retry_after": retry_after, "method": method})
        assert response.status_code == 201

    def armed_faults(self) -> list[dict[str, Any]]:
        return list(httpx.get(f"{self.root}/_sandbox/faults", headers=control_headers()).json())

    def clear_faults(self) -> None:
        httpx.delete(f"{self.root}/_sandbox/faults", headers=control_headers())
