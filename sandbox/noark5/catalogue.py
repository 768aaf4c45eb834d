"""The metadata catalogue as it stands: the standard's code lists and VSM fields plus what clients added.

N5WS v1.1 chapter 7 ("Kodelister", "VirksomhetsspesifikkeMetadata"): a core must accept
the listed code values and let a client add more through ``metadata/ny-<liste>/``; the
catalogue of virksomhetsspesifikkeMetadata fields grows through
``metadata/ny-virksomhetsspesifikkeMetadata/``. Added entries are stored as objects of
kind :data:`CODE_KIND` / :data:`VSM_KIND` (no parent), so they survive a restart and go
with a wipe.
"""

from __future__ import annotations

import re
from typing import Any

from sandbox.noark5.codes import CODE_LISTS, VSM_FIELDS, VSM_TYPES
from sandbox.noark5.schema import ValidationError, parse_temporal
from sandbox.noark5.store import Store

__all__ = ["CODE_KIND", "VSM_KIND", "code_lists", "vsm_fields", "vsm_types", "check_new_code",
           "check_new_vsm"]

CODE_KIND = "kodeverdi"
VSM_KIND = "vsmfelt"
_VSM_NAME = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)+:[a-z0-9]+$")
_VSM_KEYS = {"navn", "type", "beskrivelse", "kilde", "utdatert"}


def code_lists(store: Store) -> dict[str, dict[str, str]]:
    """Every code list with its values: the standard's first, then the added ones."""
    lists = {name: dict(values) for name, values in CODE_LISTS.items()}
    for obj in store.children(None, [CODE_KIND]):
        lists[obj.data["kodeliste"]][obj.data["kode"]] = obj.data["kodenavn"]
    return lists


def vsm_fields(store: Store) -> list[dict[str, Any]]:
    """The virksomhetsspesifikkeMetadata catalogue: the built-in fields, then the added ones."""
    return [dict(f) for f in VSM_FIELDS] + [dict(o.data) for o in store.children(None, [VSM_KIND])]


def vsm_types(store: Store) -> dict[str, str]:
    return {str(f["navn"]): str(f["type"]) for f in vsm_fields(store)}


def _text(data: dict[str, Any], name: str, required: bool) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{name} is required and must be a non-empty string")
    return value.strip()


def check_new_code(store: Store, code_list: str, data: dict[str, Any]) -> dict[str, Any]:
    """A legal new value for ``code_list`` (400 if malformed, :class:`KeyError` if taken)."""
    unknown = sorted(set(data) - {"kode", "kodenavn", "beskrivelse", "_links"})
    if unknown:
        raise ValidationError(f"a code value has no field(s) {', '.join(unknown)}; "
                              f"send kode and kodenavn")
    kode, kodenavn = _text(data, "kode", True), _text(data, "kodenavn", True)
    assert kode is not None and kodenavn is not None
    existing = code_lists(store)[code_list]
    if kode in existing:
        raise KeyError(f"{code_list} already has kode {kode!r} ({existing[kode]})")
    if kodenavn in existing.values():  # the standard: kode and kodenavn are both unique in a list
        raise KeyError(f"{code_list} already has kodenavn {kodenavn!r}")
    clean = {"kodeliste": code_list, "kode": kode, "kodenavn": kodenavn}
    beskrivelse = _text(data, "beskrivelse", False)
    if beskrivelse:
        clean["beskrivelse"] = beskrivelse
    return clean


def check_new_vsm(store: Store, data: dict[str, Any]) -> dict[str, Any]:
    """A legal new catalogue field (400 if malformed, :class:`KeyError` if the name is taken)."""
    unknown = sorted(set(data) - _VSM_KEYS - {"_links", "systemID"})
    if unknown:
        raise ValidationError(f"a virksomhetsspesifikkeMetadata field has no field(s) {', '.join(unknown)}")
    navn = _text(data, "navn", True)
    assert navn is not None
    if not _VSM_NAME.match(navn):
        raise ValidationError(f"navn {navn!r} must look like <type>-<versjon>:<feltnavn> or "
                              f"vnd-<enhet>-<versjon>:<feltnavn>, in a-z and 0-9 only")
    type_ = data.get("type")
    if type_ not in VSM_TYPES:
        raise ValidationError(f"type must be one of {', '.join(VSM_TYPES)}, got {type_!r}")
    if data.get("utdatert") is not None and parse_temporal(data["utdatert"]) is None:
        raise ValidationError("utdatert must be an ISO 8601 date-time with time zone")
    if navn in vsm_types(store):
        raise KeyError(f"the catalogue already has a field named {navn}")
    clean: dict[str, Any] = {"navn": navn, "type": type_}
    for name in ("beskrivelse", "kilde", "utdatert"):
        if data.get(name) is not None:
            clean[name] = data[name]
    return clean
