"""SIF's answer envelope: every result carries ``Successful``, ``ErrorMessage`` and ``ErrorDetails``.

Business errors are HTTP **200** with ``Successful: false`` ("SIF does not use http codes");
the message is raw .NET text. Validation failures in a create come wrapped as the
transaction error real installations send (``Error sending object CreateDocumentTransaction
() to receiver … System.Exception: … <operation>…</operation> ---> SI.Util.BizInfoException``),
so a client has to dig the reason out the way real clients do.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SifError", "ok", "failed", "validation", "text", "get", "flag", "int_value", "like", "page"]


class SifError(Exception):
    """A business error: answered as 200 with ``Successful: false``."""

    def __init__(self, message: str, details: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or f"SI.Util.BizInfoException: {message}\n   at SI.Data.RPC.Dispatcher.Invoke()"


def validation(transaction: str, reason: str, statement: str = "INSERTSTATEMENT") -> SifError:
    """A failed validation inside a create/update, worded as 360 words it."""
    message = (f"Error sending object {transaction} () to receiver SI.Biz.Core. System.Exception: Error executing "
               f"statement: {reason}\n<operation><{statement} TABLE=\"…\"/></operation> ---> "
               f"SI.Util.BizInfoException: {reason}")
    return SifError(message, f"{message}\n   at SI.Biz.Core.Transaction.Execute()")


def ok(**fields: Any) -> dict[str, Any]:
    return {**fields, "Successful": True, "ErrorMessage": None, "ErrorDetails": None}


def failed(error: SifError) -> dict[str, Any]:
    return {"Successful": False, "ErrorMessage": error.message, "ErrorDetails": error.details}


def text(parameter: dict[str, Any], name: str) -> str | None:
    """A string argument; blank counts as absent. Keys match case-insensitively (as SIF's do)."""
    for key, value in parameter.items():
        if key.casefold() == name.casefold():
            if value is None:
                return None
            value = str(value).strip()
            return value or None
    return None


def get(parameter: dict[str, Any], name: str) -> Any:
    for key, value in parameter.items():
        if key.casefold() == name.casefold():
            return value
    return None


def flag(parameter: dict[str, Any], name: str) -> bool:
    """A boolean argument; ``"true"`` as a string works too (VTFK sends ``Active: "true"``)."""
    value = get(parameter, name)
    return value is True or str(value).strip().lower() == "true"


def int_value(parameter: dict[str, Any], name: str, default: int) -> int:
    value = get(parameter, name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SifError(f"The value '{value}' of {name} is not a valid integer.") from None


def like(pattern: str, value: str | None) -> bool:
    """SQL ``LIKE`` as SIF's ``Title`` filters use it: ``%`` any run, ``_`` one character, no case."""
    import re

    parts, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        end = pattern.find("]", i + 1) if c == "[" else -1
        if end > i:  # [x]: a character set (SQL Server's way of escaping % and _)
            parts.append("[" + re.escape(pattern[i + 1:end]) + "]")
            i = end + 1
            continue
        parts.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    regex = "".join(parts)
    return re.fullmatch(regex, value or "", flags=re.IGNORECASE | re.DOTALL) is not None


def page(parameter: dict[str, Any], items: list[Any], max_name: str, default_size: int = 100) -> tuple[list[Any], int, int]:
    """One page (``Page`` counts from 0) of ``items``; also ``TotalCount`` and ``TotalPageCount``."""
    size = int_value(parameter, max_name, default_size)
    if size < 1:
        raise SifError(f"{max_name} must be at least 1.")
    number = int_value(parameter, "Page", 0)
    total_pages = (len(items) + size - 1) // size
    return items[number * size:(number + 1) * size], len(items), total_pages
