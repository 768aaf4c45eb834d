"""Relations (``_links``) of every resource the sandbox serves.

Relation keys are the standard's (N5WS v1.1 chapter 7); hrefs follow nikita's layout
(``{api}/arkivstruktur/arkivdel/{systemID}/ny-saksmappe/``) but clients must never rely on
that: they follow relations. ``_links`` is an object keyed by relation, sorted by key as
the standard asks; list relations are templated with the OData parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.noark5.schema import KINDS

__all__ = [
    "REL",
    "CHILD_LISTS",
    "COLLECTIONS",
    "NEW_CHILDREN",
    "LINKED_LISTS",
    "LINKED_NEW",
    "VSM",
    "Hrefs",
    "QUERY_TEMPLATE",
    "link",
]

REL = "https://rel.arkivverket.no/noark5/v5/api/"
QUERY_TEMPLATE = "{?$filter&$orderby&$top&$skip&$search}"

COLLECTIONS: dict[str, tuple[str, ...]] = {
    "arkivskaper": ("arkivskaper",),
    "arkiv": ("arkiv",),
    "arkivdel": ("arkivdel",),
    "mappe": ("mappe", "saksmappe"),
    "saksmappe": ("saksmappe",),
    "registrering": ("registrering", "journalpost"),
    "journalpost": ("journalpost",),
    "korrespondansepart": ("korrespondansepartperson",),
    "korrespondansepartperson": ("korrespondansepartperson",),
    "dokumentbeskrivelse": ("dokumentbeskrivelse",),
    "dokumentobjekt": ("dokumentobjekt",),
}
"""List name in a URL → the stored kinds it holds (a mappe list also holds saksmapper)."""

_REGISTRERING_LISTS = (("arkivstruktur", "korrespondansepart"), ("arkivstruktur", "dokumentbeskrivelse"))
CHILD_LISTS: dict[str, tuple[tuple[str, str], ...]] = {
    "arkiv": (("arkivstruktur", "arkivdel"),),
    "arkivdel": (("arkivstruktur", "mappe"), ("sakarkiv", "saksmappe"), ("arkivstruktur", "registrering")),
    "mappe": (("arkivstruktur", "registrering"),),
    "saksmappe": (("arkivstruktur", "registrering"), ("sakarkiv", "journalpost")),
    "registrering": _REGISTRERING_LISTS,
    "journalpost": _REGISTRERING_LISTS,
    "dokumentbeskrivelse": (("arkivstruktur", "dokumentobjekt"),),
}
"""Parent kind → (package, list name) of the lists below it."""

LINKED_LISTS: dict[str, tuple[str, str]] = {
    "arkiv": ("arkivstruktur", "arkivskaper"),
    "arkivskaper": ("arkivstruktur", "arkiv"),
}
"""Kind → (package, list name) of the objects associated with it (many-to-many, not below it)."""

_NEW_REGISTRERING = (("arkivstruktur", "registrering"), ("sakarkiv", "journalpost"))
_NEW_BELOW_REGISTRERING = (("arkivstruktur", "korrespondansepartperson"), ("arkivstruktur", "dokumentbeskrivelse"))
NEW_CHILDREN: dict[str, tuple[tuple[str, str], ...]] = {
    "arkivskaper": (("arkivstruktur", "arkiv"),),
    "arkiv": (("arkivstruktur", "arkivdel"), ("arkivstruktur", "arkivskaper")),
    "arkivdel": (("arkivstruktur", "mappe"), ("arkivstruktur", "registrering"), ("sakarkiv", "saksmappe")),
    "mappe": _NEW_REGISTRERING,
    "saksmappe": _NEW_REGISTRERING,
    "registrering": _NEW_BELOW_REGISTRERING,
    "journalpost": _NEW_BELOW_REGISTRERING,
    "dokumentbeskrivelse": (("arkivstruktur", "dokumentobjekt"),),
}
"""Kind → (package, kind) it can create with ``ny-<kind>``; see :data:`LINKED_NEW`."""

LINKED_NEW = frozenset({("arkivskaper", "arkiv"), ("arkiv", "arkivskaper")})
"""(kind, new kind) pairs whose ``ny-*`` creates an object *associated* with, not below, it."""

_PARENT_RELS: dict[str, tuple[str, ...]] = {
    "arkiv": ("arkivstruktur/arkiv/",),
    "arkivdel": ("arkivstruktur/arkivdel/",),
    "mappe": ("arkivstruktur/mappe/",),
    "saksmappe": ("arkivstruktur/mappe/", "sakarkiv/saksmappe/"),
    "registrering": ("arkivstruktur/registrering/",),
    "journalpost": ("arkivstruktur/registrering/", "sakarkiv/journalpost/"),
    "dokumentbeskrivelse": ("arkivstruktur/dokumentbeskrivelse/",),
}
"""Parent kind → the relations by which its children point back to it."""

VSM = "virksomhetsspesifikkeMetadata"
_METADATA: dict[str, tuple[str, ...]] = {
    "arkiv": ("arkivstatus", "dokumentmedium"),
    "arkivdel": ("arkivdelstatus", "dokumentmedium"),
    "mappe": ("dokumentmedium", VSM),
    "saksmappe": ("saksstatus", "dokumentmedium", VSM),
    "registrering": ("dokumentmedium", VSM),
    "journalpost": ("journalposttype", "journalstatus", "dokumentmedium", VSM),
    "korrespondansepartperson": ("korrespondanseparttype",),
    "dokumentbeskrivelse": ("dokumenttype", "dokumentstatus", "tilknyttetregistreringsom", "dokumentmedium", VSM),
    "dokumentobjekt": ("format", "variantformat"),
}


def link(href: str, templated: bool = False) -> dict[str, Any]:
    """One ``_links`` entry; ``templated`` is always present (false when absent means the same)."""
    return {"href": href, "templated": templated}


def _sorted(links: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return dict(sorted(links.items()))


@dataclass(frozen=True)
class Hrefs:
    """Builds hrefs for one request (absolute, from the address the client used)."""

    api: str  # e.g. http://127.0.0.1:8702/noark5v5/api

    def entity(self, kind: str, system_id: str) -> str:
        return f"{self.api}/{KINDS[kind].package}/{kind}/{system_id}/"

    def file(self, system_id: str) -> str:
        return f"{self.api}/arkivstruktur/dokumentobjekt/{system_id}/referanseFil/"

    def root(self) -> dict[str, Any]:
        return {"_links": _sorted({
            "self": link(f"{self.api}/"),
            REL + "arkivstruktur/": link(f"{self.api}/arkivstruktur/"),
            REL + "sakarkiv/": link(f"{self.api}/sakarkiv/"),
            REL + "admin/system/": link(f"{self.api}/admin/system/"),
            REL + "metadata/": link(f"{self.api}/metadata/"),
            REL + "login/rfc7617/": link(f"{self.api}/login/rfc7617/"),
        })}

    def package(self, package: str) -> dict[str, Any]:
        lists = {"arkivstruktur": ("arkiv", "arkivdel", "arkivskaper", "mappe", "registrering",
                                   "korrespondansepart", "dokumentbeskrivelse", "dokumentobjekt"),
                 "sakarkiv": ("saksmappe", "journalpost")}[package]
        links = {"self": link(f"{self.api}/{package}/")}
        for name in lists:
            links[f"{REL}{package}/{name}/"] = link(f"{self.api}/{package}/{name}/{QUERY_TEMPLATE}", True)
        if package == "arkivstruktur":
            for kind in ("arkiv", "arkivskaper"):
                links[f"{REL}arkivstruktur/ny-{kind}/"] = link(f"{self.api}/arkivstruktur/ny-{kind}/")
        return {"_links": _sorted(links)}

    def metadata_links(self, kind: str) -> dict[str, dict[str, Any]]:
        return {f"{REL}metadata/{name}/": link(f"{self.api}/metadata/{name}/")
                for name in _METADATA.get(kind, ())}

    def entity_links(self, kind: str, system_id: str, parent: tuple[str, str] | None,
                     has_file: bool = False) -> dict[str, dict[str, Any]]:
        me = self.entity(kind, system_id)
        links = {"self": link(me), REL + KINDS[kind].entity_rel: link(me)}
        if parent is not None:
            parent_href = self.entity(*parent)
            for rel in _PARENT_RELS.get(parent[0], ()):
                links[REL + rel] = link(parent_href)
        lists = CHILD_LISTS.get(kind, ()) + ((LINKED_LISTS[kind],) if kind in LINKED_LISTS else ())
        for package, name in lists:
            links[f"{REL}{package}/{name}/"] = link(f"{me}{name}/{QUERY_TEMPLATE}", True)
        for package, child in NEW_CHILDREN.get(kind, ()):
            links[f"{REL}{package}/ny-{child}/"] = link(f"{me}ny-{child}/")
        if kind == "dokumentbeskrivelse":
            links[REL + "arkivstruktur/fil/"] = link(f"{me}fil/")
        if kind == "dokumentobjekt":
            links[REL + "arkivstruktur/fil/"] = link(self.file(system_id))
        links.update(self.metadata_links(kind))
        return _sorted(links)

    def list_links(self, self_href: str, list_rel: str | None,
                   next_href: str | None) -> dict[str, dict[str, Any]]:
        links = {"self": link(self_href)}
        if list_rel:
            links[REL + list_rel] = link(self_href)
        if next_href:
            links["next"] = link(next_href)
        return _sorted(links)
