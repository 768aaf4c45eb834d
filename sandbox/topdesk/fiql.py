"""FIQL as the TOPdesk sandbox reads it in ``?query=``: parse, then match records.

Grammar (RSQL/FIQL, as TOPdesk documents for its ``query`` parameter)::

    or_expr    := and_expr ( "," and_expr )*
    and_expr   := term ( ";" term )*
    term       := "(" or_expr ")" | selector operator arguments
    operator   := "==" | "!=" | "=in=" | "=out=" | "=gt=" | "=ge=" | "=lt=" | "=le="
    arguments  := "(" value ( "," value )* ")" | value
    value      := unreserved+ | '"' ( "\\" any | not '"' )* '"' | "'" ( ... ) "'"

Unreserved means anything but ``" ' ( ) ; , = ! ~ < >`` and whitespace; a value holding
any of those must be quoted, and inside quotes a backslash escapes the next character.

Matching: text compares case-insensitively and ``*`` is a wildcard in ``==``/``!=`` (like
TOPdesk on SQL Server), booleans compare with ``true``/``false``, numbers numerically.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["FiqlError", "Comparison", "Junction", "Node", "parse", "matches", "lookup", "select"]

_RESERVED = set("\"'();,=!~<>")
_SELECTOR = re.compile(r"[A-Za-z0-9_.@]+")
_OPERATORS = ("==", "!=", "=in=", "=out=", "=gt=", "=ge=", "=lt=", "=le=")


class FiqlError(ValueError):
    """The query cannot be parsed or names a field that cannot be searched."""


@dataclass(frozen=True)
class Comparison:
    selector: str
    operator: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Junction:
    kind: str  # "and" | "or"
    parts: tuple[Node, ...]


Node = Comparison | Junction


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> FiqlError:
        return FiqlError(f"invalid query at position {self.pos}: {what}")

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_space()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, char: str) -> None:
        if self.peek() != char:
            raise self.fail(f"expected {char!r}")
        self.pos += 1

    def parse(self) -> Node:
        node = self.or_expr()
        if self.peek():
            raise self.fail(f"unexpected {self.peek()!r}")
        return node

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.peek() == ",":
            self.pos += 1
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Junction("or", tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.term()]
        while self.peek() == ";":
            self.pos += 1
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else Junction("and", tuple(parts))

    def term(self) -> Node:
        if self.peek() == "(":
            self.pos += 1
            node = self.or_expr()
            self.expect(")")
            return node
        match = _SELECTOR.match(self.text, self.pos)
        if not match:
            raise self.fail("expected a field name")
        self.pos = match.end()
        operator = next((op for op in _OPERATORS if self.text.startswith(op, self.pos)), None)
        if operator is None:
            raise self.fail("expected an operator (==, !=, =in=, =out=, =gt=, =ge=, =lt=, =le=)")
        self.pos += len(operator)
        if operator in ("=in=", "=out="):
            self.expect("(")
            values = [self.value()]
            while self.peek() == ",":
                self.pos += 1
                values.append(self.value())
            self.expect(")")
        else:
            values = [self.value()]
        return Comparison(match.group(0), operator, tuple(values))

    def value(self) -> str:
        quote = self.peek()
        if quote in ("'", '"'):
            self.pos += 1
            out: list[str] = []
            while self.pos < len(self.text):
                char = self.text[self.pos]
                if char == "\\" and self.pos + 1 < len(self.text):
                    out.append(self.text[self.pos + 1])
                    self.pos += 2
                elif char == quote:
                    self.pos += 1
                    return "".join(out)
                else:
                    out.append(char)
                    self.pos += 1
            raise self.fail("unterminated quoted value")
        start = self.pos
        while (self.pos < len(self.text) and self.text[self.pos] not in _RESERVED
               and not self.text[self.pos].isspace()):
            self.pos += 1
        if self.pos == start:
            raise self.fail("expected a value")
        return self.text[start:self.pos]


def parse(text: str) -> Node:
    return _Parser(text).parse()


def lookup(record: Mapping[str, Any], selector: str) -> Any:
    """``a.b.c`` into nested dicts; ``None`` where a level is missing or null."""
    value: Any = record
    for part in selector.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _wildcard(pattern: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(p) for p in pattern.split("*")) + "$", re.IGNORECASE | re.DOTALL)


def _equal(actual: Any, expected: str) -> bool:
    if isinstance(actual, bool):
        if expected.lower() not in ("true", "false"):
            raise FiqlError(f"{expected!r} is not a boolean (true or false)")
        return actual == (expected.lower() == "true")
    if isinstance(actual, int | float):
        try:
            return float(actual) == float(expected)
        except ValueError as exc:
            raise FiqlError(f"{expected!r} is not a number") from exc
    text = "" if actual is None else str(actual)
    if expected == "null":
        return actual is None or text == ""
    if "*" in expected:
        return bool(_wildcard(expected).match(text))
    return text.casefold() == expected.casefold()


def _order(actual: Any, operator: str, expected: str) -> bool:
    if actual is None:
        return False
    left: Any
    right: Any
    if isinstance(actual, int | float) and not isinstance(actual, bool):
        try:
            left, right = float(actual), float(expected)
        except ValueError as exc:
            raise FiqlError(f"{expected!r} is not a number") from exc
    else:
        left, right = str(actual).casefold(), expected.casefold()
    return bool({"=gt=": left > right, "=ge=": left >= right, "=lt=": left < right,
                 "=le=": left <= right}[operator])


def _compare(node: Comparison, record: Mapping[str, Any]) -> bool:
    actual = lookup(record, node.selector)
    if node.operator == "==":
        return _equal(actual, node.values[0])
    if node.operator == "!=":
        return not _equal(actual, node.values[0])
    if node.operator == "=in=":
        return any(_equal(actual, v) for v in node.values)
    if node.operator == "=out=":
        return not any(_equal(actual, v) for v in node.values)
    return _order(actual, node.operator, node.values[0])


def _check_fields(node: Node, searchable: Iterable[str]) -> None:
    allowed = set(searchable)
    if isinstance(node, Comparison):
        if node.selector not in allowed:
            raise FiqlError(f"the field {node.selector!r} cannot be used in a query; "
                            f"searchable fields: {', '.join(sorted(allowed))}")
        return
    for part in node.parts:
        _check_fields(part, allowed)


def matches(node: Node, record: Mapping[str, Any]) -> bool:
    if isinstance(node, Comparison):
        return _compare(node, record)
    if node.kind == "and":
        return all(matches(part, record) for part in node.parts)
    return any(matches(part, record) for part in node.parts)


def select(query: str | None, records: Iterable[Mapping[str, Any]], searchable: Iterable[str]) -> list[Any]:
    """The records a query selects (all of them when ``query`` is empty)."""
    items = list(records)
    if not query:
        return items
    node = parse(query)
    _check_fields(node, searchable)
    return [r for r in items if matches(node, r)]

