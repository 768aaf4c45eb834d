"""Shape variants the real DFØ-SAP API has been seen to serve, switched on by the control route.

``POST /_sandbox/quirks {"quirks": ["unwrap", "null-lists", ...]}`` (the control token, like
every ``/_sandbox`` route) sets the quirks every later API answer is served with;
``GET /_sandbox/quirks`` lists them, ``DELETE /_sandbox/quirks`` serves the plain list form
again. The store is never changed: a quirk reshapes the JSON on its way out.

``unwrap``
    a list of one is a bare object: ``{"ansatt": {...}}``, ``"annenId": {...}``,
    ``"leder": {...}``, ``"innehaver": {...}``.
``null-lists``
    an empty list is ``[null]``; the employee list gains a ``null`` entry.
``extra-keys``
    fields no consumer knows (``"nyttFelt"``, ``"_links"``) on every object.
``misspelt-keys``
    ``organisasjonId`` → ``organisasjon_id``, ``stillingId`` → ``stillingsId``,
    ``annenId`` → ``annenID`` (spellings seen from other DFØ consumers and exports).
``padded-ids``
    employee ids zero-padded to DFØ's 8 digits (``"10001"`` → ``"00010001"``), also as
    ``lederAnsattnr`` and ``innehaverAnsattnr``.
``numeric-ids``
    ids and ``fnr`` as JSON numbers (an ``fnr`` starting with 0 loses that zero).
"""

from __future__ import annotations

from typing import Any

__all__ = ["QUIRKS", "apply_quirks"]

QUIRKS = ("unwrap", "null-lists", "extra-keys", "misspelt-keys", "padded-ids", "numeric-ids")

_LISTS = ("annenId", "tilleggsstilling", "leder", "innehaver", "stillingskat", "authWf")
_MISSPELT = {"organisasjonId": "organisasjon_id", "stillingId": "stillingsId", "annenId": "annenID"}
_EMPLOYEE_IDS = ("lederAnsattnr", "innehaverAnsattnr")
_NUMERIC = ("id", "stillingId", "organisasjonId", "fnr")


def _pad(value: Any) -> Any:
    text = str(value)
    return text.zfill(8) if text.isdigit() else value


def _number(value: Any) -> Any:
    text = str(value)
    return int(text) if text.isdigit() else value


def _reshape(obj: dict[str, Any], quirks: frozenset[str], *, employee: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if isinstance(value, list):
            value = [_reshape(v, quirks, employee=False) if isinstance(v, dict) else v for v in value]
            if key in _LISTS:
                if "null-lists" in quirks and not value:
                    value = [None]
                elif "unwrap" in quirks and len(value) == 1:
                    value = value[0]
        if "padded-ids" in quirks and ((employee and key == "id") or key in _EMPLOYEE_IDS):
            value = _pad(value)
        if "numeric-ids" in quirks and employee and key in _NUMERIC:
            value = _number(value)
        if "misspelt-keys" in quirks and employee:
            key = _MISSPELT.get(key, key)
        out[key] = value
    if "extra-keys" in quirks:
        out.update({"nyttFelt": "ukjent", "_links": {"self": {"href": "about:blank"}}})
    return out


def apply_quirks(body: dict[str, Any], wrapper: str, quirks: frozenset[str], *, single: bool) -> dict[str, Any]:
    """``body`` (``{wrapper: [objects]}``) as DFØ would serve it with ``quirks`` switched on.
    ``single``: the answer to ``.../{id}`` (one object), not the whole list."""
    if not quirks:
        return body
    employee = wrapper == "ansatt"
    items = [_reshape(i, quirks, employee=employee) for i in body[wrapper]]
    value: Any = items
    if single and "unwrap" in quirks and len(items) == 1:
        value = items[0]
    elif not single and "null-lists" in quirks:
        value = [*items, None]
    return {**body, wrapper: value}
