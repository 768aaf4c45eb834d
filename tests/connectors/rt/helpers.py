"""Helpers for the RT tests: plain REST2 calls (no connector code) and timings."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from sandbox.rt import RtInstance

__all__ = ["RtDirect", "cf_values", "TIMINGS"]

TIMINGS: dict[str, float] = {}
"""Measured durations, printed at the end of the test session."""


class RtDirect:
    """Plain REST2 calls for assertions: no connector code involved."""

    def __init__(self, instance: RtInstance) -> None:
        self._root_password = instance.dir / "root-password"
        self.client = httpx.Client(base_url=instance.rest_url + "/", timeout=20.0,
                                   headers={"Authorization": f"token {instance.token.get_secret_value()}"})

    def tickets_with_ref(self, ref: str) -> list[dict[str, Any]]:
        # Simple refs only (letters, digits, ':', '-'); the connector's escaping is tested elsewhere.
        response = self.client.get("tickets", params={
            "query": f"'CF.{{ExternalRef}}' = '{ref}'", "per_page": 100,
            "fields": "Subject,Status,Due,CustomFields,Requestor", "fields[Requestor]": "EmailAddress"})
        response.raise_for_status()
        return list(response.json()["items"])

    def ticket(self, ticket_id: str) -> dict[str, Any]:
        response = self.client.get(f"ticket/{ticket_id}")
        response.raise_for_status()
        return dict(response.json())

    def history(self, ticket_id: str) -> list[dict[str, Any]]:
        response = self.client.get(f"ticket/{ticket_id}/history",
                                   params={"per_page": 100, "fields": "Type,Data"})
        response.raise_for_status()
        return list(response.json()["items"])

    def asset(self, asset_id: str) -> dict[str, Any]:
        response = self.client.post("assets", params={
            "fields": "Name,Status,CustomFields,HeldBy", "fields[HeldBy]": "EmailAddress"},
            data={"query": f"id = {int(asset_id)}"})
        response.raise_for_status()
        items = response.json()["items"]
        assert len(items) == 1
        return dict(items[0])

    def allocate(self, asset_id: str, *, holder: str, ref: str) -> None:
        response = self.client.put(f"asset/{asset_id}", json={
            "Status": "allocated", "HeldBy": [holder], "CustomFields": {"ExternalRef": ref}})
        response.raise_for_status()

    def stock(self, model: str, count: int) -> list[str]:
        """IT buys laptops: ``count`` new assets of ``model`` in the Laptops catalog (as RT's root)."""
        auth = ("root", self._root_password.read_text().strip())
        with httpx.Client(base_url=self.client.base_url, auth=auth, timeout=20.0) as root:
            ids = []
            for _ in range(count):
                response = root.post("asset", json={"Name": f"LT-T{uuid.uuid4().hex[:6]}", "Catalog": "Laptops",
                                                    "CustomFields": {"Model": model}})
                response.raise_for_status()
                ids.append(str(response.json()["id"]))
        return ids

    def create_ticket(self, body: dict[str, Any]) -> str:
        response = self.client.post("ticket", json=body)
        response.raise_for_status()
        return str(response.json()["id"])

    def comment(self, ticket_id: str, text: str) -> None:
        response = self.client.post(f"ticket/{ticket_id}/comment",
                                    json={"Content": text, "ContentType": "text/plain"})
        response.raise_for_status()


def cf_values(record: dict[str, Any], name: str) -> list[str]:
    for field in record.get("CustomFields", []):
        if field.get("name") == name:
            return [str(v) for v in field.get("values", [])]
    return []
