"""A minimal N5WS client for tests, written independently of ``connectors.n5ws``.

It knows one URL (discovery) and relation keys; everything else comes from ``_links``.
Raw ``httpx``, no retries, no error mapping: a test should see exactly what the server
does.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlencode

import httpx

__all__ = ["RelationClient", "REL", "MEDIA_TYPE"]

REL = "https://rel.arkivverket.no/noark5/v5/api/"
MEDIA_TYPE = "application/vnd.noark5+json"


class RelationClient:
    def __init__(self, api_url: str, auth: tuple[str, str] | None) -> None:
        self.api_url = api_url
        self.http = httpx.Client(auth=auth, headers={"Accept": MEDIA_TYPE}, timeout=10.0)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RelationClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- navigation ---------------------------------------------------------------------
    def get(self, href: str, **kwargs: Any) -> dict[str, Any]:
        response = self.http.get(href, **kwargs)
        response.raise_for_status()
        return dict(response.json())

    def root(self) -> dict[str, Any]:
        return self.get(self.api_url)

    @staticmethod
    def link(obj: dict[str, Any], rel: str) -> dict[str, Any]:
        key = rel if rel == "self" or rel.startswith("http") else REL + rel
        links = obj["_links"]
        assert key in links, f"{key} not among {sorted(links)}"
        return dict(links[key])

    def href(self, obj: dict[str, Any], rel: str, **query: Any) -> str:
        """The href of ``rel``; a templated one gets ``query`` as OData options."""
        link = self.link(obj, rel)
        href = str(link["href"])
        if link.get("templated"):
            href = re.sub(r"\{[^}]*\}", "", href)
        params = {f"${k}": v for k, v in query.items() if v is not None}
        if params:
            href += ("&" if "?" in href else "?") + urlencode(params)
        return href

    def follow(self, obj: dict[str, Any], rel: str, **query: Any) -> dict[str, Any]:
        return self.get(self.href(obj, rel, **query))

    def list(self, obj: dict[str, Any], rel: str, **query: Any) -> list[dict[str, Any]]:
        """Every result of a list relation, following ``next``."""
        page = self.follow(obj, rel, **query)
        results = list(page.get("results", []))
        while "next" in page["_links"]:
            page = self.get(page["_links"]["next"]["href"])
            results.extend(page.get("results", []))
        return results

    # -- writing ------------------------------------------------------------------------
    def create(self, parent: dict[str, Any], rel: str, fields: dict[str, Any]) -> httpx.Response:
        """GET the ``ny-*`` template, fill it in, POST it back to the same href."""
        href = self.href(parent, rel)
        template = self.get(href)
        body = {k: v for k, v in template.items() if k != "_links" and v is not None}
        body.update(fields)
        return self.http.post(href, json=body, headers={"Content-Type": MEDIA_TYPE})

    def made(self, parent: dict[str, Any], rel: str, fields: dict[str, Any]) -> dict[str, Any]:
        """:meth:`create` that must answer 201 with ``Location``; the new object."""
        response = self.create(parent, rel, fields)
        assert response.status_code == 201, f"{rel}: {response.status_code} {response.text}"
        assert response.headers["location"] == response.json()["_links"]["self"]["href"]
        return dict(response.json())

    def post(self, parent: dict[str, Any], rel: str, body: Any) -> httpx.Response:
        """POST ``body`` as it is (no template) to the href of ``rel``."""
        return self.http.post(self.href(parent, rel), json=body, headers={"Content-Type": MEDIA_TYPE})

    def upload(self, obj: dict[str, Any], content: bytes, media_type: str,
               filename: str | None = None) -> httpx.Response:
        headers = {"Content-Type": media_type}
        if filename:
            headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return self.http.post(self.href(obj, "arkivstruktur/fil/"), content=content, headers=headers)

    def download(self, obj: dict[str, Any], accept: str = "*/*") -> httpx.Response:
        return self.http.get(self.href(obj, "arkivstruktur/fil/"), headers={"Accept": accept})
