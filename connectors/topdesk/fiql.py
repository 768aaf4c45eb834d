"""A small, strict builder for TOPdesk's FIQL ``query`` parameter (and AM ``$filter``).

FIQL (RSQL) reserves ``" ' ( ) ; , = ! ~ < >`` and whitespace, so every text value is
written in double quotes with ``\\`` → ``\\\\`` and ``"`` → ``\\"``; booleans and numbers
go bare. Conditions join with ``;`` (and) and ``,`` (or); a part that is itself an
or-group is parenthesised, since ``;`` binds tighter than ``,``.

Two things no quoting can change, so callers re-check what comes back:

- ``*`` in a value is a wildcard in ``==``/``!=`` (RSQL has no escape for it);
- text compares case-insensitively (TOPdesk runs on case-insensitive collations).

Asset Management filters with OData instead (``$filter=model eq 'x'``), where a quote in
a value is doubled: :func:`odata_eq` and :func:`odata_all`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["QueryValueError", "quote", "selector", "eq", "ne", "in_", "all_of", "any_of", "odata_eq",
           "odata_all"]

_SELECTOR = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")
_ODATA_FIELD = re.compile(r"^[A-Za-z@][A-Za-z0-9_.\-]*$")

Value = str | int | bool


class QueryValueError(ValueError):
    """A value or field that cannot be put into a TOPdesk query safely."""


def quote(value: Value) -> str:
    """``value`` as a FIQL argument: text in double quotes, booleans and numbers bare."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if "\0" in value:
        raise QueryValueError("a search value may not contain NUL characters")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def selector(name: str) -> str:
    """A field path such as ``optionalFields1.text1`` or ``operatorGroup.name``."""
    if not _SELECTOR.match(name):
        raise QueryValueError(f"unsafe field name {name!r}")
    return name


def eq(field: str, value: Value) -> str:
    return f"{selector(field)}=={quote(value)}"


def ne(field: str, value: Value) -> str:
    return f"{selector(field)}!={quote(value)}"


def in_(field: str, values: Iterable[Value]) -> str:
    items = [quote(v) for v in values]
    if not items:
        raise QueryValueError("=in= needs at least one value")
    return f"{selector(field)}=in=({','.join(items)})"


def _group(condition: str) -> str:
    """Parenthesise ``condition`` when it has a top-level ``,`` (an or-group)."""
    depth, quoted, escaped = 0, False, False
    for char in condition:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
        elif not quoted and depth == 0 and char == ",":
            return f"({condition})"
    return condition


def all_of(*conditions: str) -> str:
    parts = [c for c in conditions if c]
    if not parts:
        raise QueryValueError("empty query")
    return ";".join(_group(p) for p in parts) if len(parts) > 1 else parts[0]


def any_of(*conditions: str) -> str:
    parts = [c for c in conditions if c]
    if not parts:
        raise QueryValueError("empty query")
    return ",".join(parts)


def odata_eq(field: str, value: str) -> str:
    """``field eq 'value'`` for Asset Management's ``$filter`` (``'`` doubled)."""
    if not _ODATA_FIELD.match(field):
        raise QueryValueError(f"unsafe asset field id {field!r}")
    if "\0" in value:
        raise QueryValueError("a filter value may not contain NUL characters")
    return f"{field} eq '" + value.replace("'", "''") + "'"


def odata_all(*conditions: str) -> str | None:
    parts = [c for c in conditions if c]
    return " and ".join(parts) if parts else None
