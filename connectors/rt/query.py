"""A small, strict builder for RT's TicketSQL and AssetSQL.

RT parses a quoted value with Regexp::Common's ``delimited`` (backslash escapes), then
removes one backslash before every character. So a value is written as ``'...'`` with
``\\`` → ``\\\\`` and ``'`` → ``\\'``. Two traps are refused rather than escaped:

- a value that, unquoted, looks like ``CF.{...}`` or ``CF.name``: RT turns it into a
  reference to that custom field's content instead of comparing with the text;
- NUL characters, which RT cannot store.

Custom-field searches with ``=`` are case-insensitive in RT; callers that need an exact
match re-check the values they get back.
"""

from __future__ import annotations

import re

__all__ = ["quote", "cf", "field", "eq", "not_eq", "all_of", "QueryValueError"]

_CF_REFERENCE = re.compile(r"^CF\.", re.IGNORECASE)
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")
_CF_NAME = re.compile(r"^[^'\"{}\\\n]+$")


class QueryValueError(ValueError):
    """A value or field that cannot be put into TicketSQL safely."""


def quote(value: str | int) -> str:
    """``value`` as a TicketSQL string literal."""
    text = str(value)
    if "\0" in text:
        raise QueryValueError("a search value may not contain NUL characters")
    if _CF_REFERENCE.match(text):
        raise QueryValueError("a search value may not start with 'CF.' (RT reads it as a custom field)")
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def cf(name: str) -> str:
    """The TicketSQL key for custom field ``name``: ``'CF.{name}'``."""
    if not _CF_NAME.match(name):
        raise QueryValueError(f"unsafe custom-field name {name!r}")
    return "'CF.{" + name + "}'"


def field(name: str) -> str:
    """A core field such as ``Status``, ``Catalog`` or ``HeldBy.EmailAddress``."""
    if not _FIELD.match(name):
        raise QueryValueError(f"unsafe field name {name!r}")
    return name


def eq(key: str, value: str | int) -> str:
    """``key = 'value'``; ``key`` comes from :func:`cf` or :func:`field`."""
    return f"{key} = {quote(value)}"


def not_eq(key: str, value: str | int) -> str:
    return f"{key} != {quote(value)}"


def all_of(*conditions: str) -> str:
    """Conditions joined with AND, each in parentheses."""
    parts = [c for c in conditions if c]
    if not parts:
        raise QueryValueError("empty query")
    return " AND ".join(f"( {c} )" if len(parts) > 1 else c for c in parts)
