"""OData 4.01 ``$filter`` / ``$orderby`` for the sandbox, evaluated over stored JSON.

``odata-query`` parses the expression into an AST; this module walks that AST against
one object at a time (sandbox scale, so Python-side evaluation is fine).

Supported (the N5WS "basis" level and a bit more): ``eq ne lt le gt ge in``, ``and or
not``, parentheses, ``startswith endswith contains substringof substring indexof length
tolower toupper trim concat year month day hour minute second date``, literals (string,
number, boolean, null, date, date-time, GUID) and paths such as ``saksstatus/kode``.

Virksomhetsspesifikke metadata: the standard (chapter 6, "Søk i virksomhetsspesifikke
metadata") names the field by its full prefixed name, so both forms below work::

    $filter=vnd-oslomet-v1:eksternid eq 'nettskjema:42'                            (standard)
    $filter=virksomhetsspesifikkeMetadata/vnd-oslomet-v1:eksternid eq 'nettskjema:42'  (nikita)

Because ``-`` and ``:`` are not legal in an OData identifier, such names are swapped for
placeholders before parsing (never inside string literals).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from odata_query import ast
from odata_query.exceptions import ODataException
from odata_query.grammar import ODataLexer, ODataParser

from sandbox.noark5.schema import parse_temporal

__all__ = ["FilterError", "compile_filter", "compile_orderby", "matches_search"]

BSM = "virksomhetsspesifikkeMetadata"
_BSM_NAME = re.compile(r"(?<![\w\-/])(?:virksomhetsspesifikkeMetadata/)?"
                       r"([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)+:[A-Za-z0-9_]+)")
_LITERAL = re.compile(r"('(?:[^']|'')*')")
_PLACEHOLDER = "bsm__"


class FilterError(ValueError):
    """The ``$filter``/``$orderby`` cannot be parsed or evaluated (answered 400)."""


def _hide_bsm_names(text: str) -> tuple[str, dict[str, str]]:
    names: dict[str, str] = {}

    def swap(match: re.Match[str]) -> str:
        placeholder = f"{_PLACEHOLDER}{len(names)}"
        names[placeholder] = match.group(1)
        return placeholder

    parts = _LITERAL.split(text)
    for i in range(0, len(parts), 2):  # even parts are outside string literals
        parts[i] = _BSM_NAME.sub(swap, parts[i])
    return "".join(parts), names


class _Evaluator:
    def __init__(self, known_fields: frozenset[str], bsm_names: dict[str, str]) -> None:
        self.known = known_fields
        self.bsm = bsm_names

    # -- values ---------------------------------------------------------------------------
    def value(self, node: ast._Node, obj: dict[str, Any]) -> Any:
        if isinstance(node, ast.Identifier):
            if node.name in self.bsm:
                return (obj.get(BSM) or {}).get(self.bsm[node.name])
            if node.name not in self.known:
                raise FilterError(f"unknown field '{node.name}'")
            return obj.get(node.name)
        if isinstance(node, ast.Attribute):
            if isinstance(node.owner, ast.Identifier) and node.owner.name == BSM:
                key = self.bsm.get(node.attr, node.attr)
                return (obj.get(BSM) or {}).get(key)
            owner = self.value(node.owner, obj)
            return owner.get(node.attr) if isinstance(owner, dict) else None
        if isinstance(node, ast.Null):
            return None
        if isinstance(node, ast.Integer):
            return int(node.val)
        if isinstance(node, ast.Float):
            return float(node.val)
        if isinstance(node, ast.Boolean):
            return node.val.lower() == "true"
        if isinstance(node, (ast.String, ast.GUID)):
            return node.val
        if isinstance(node, ast.Date):
            return date.fromisoformat(node.val)
        if isinstance(node, ast.DateTime):
            return datetime.fromisoformat(node.val.replace("Z", "+00:00"))
        if isinstance(node, ast.List):
            return [self.value(v, obj) for v in node.val]
        if isinstance(node, ast.Call):
            return self.call(node, obj)
        if isinstance(node, (ast.Compare, ast.BoolOp, ast.UnaryOp)):
            return self.test(node, obj)
        raise FilterError(f"unsupported expression: {type(node).__name__}")

    def call(self, node: ast.Call, obj: dict[str, Any]) -> Any:
        name = node.func.name.lower()
        args = [self.value(a, obj) for a in node.args]
        fn = _FUNCTIONS.get(name)
        if fn is None:
            raise FilterError(f"unsupported function '{node.func.name}'")
        try:
            return fn(*args)
        except (TypeError, ValueError, AttributeError, IndexError):
            return None

    # -- predicates -----------------------------------------------------------------------
    def test(self, node: ast._Node, obj: dict[str, Any]) -> bool:
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                return self.test(node.left, obj) and self.test(node.right, obj)
            return self.test(node.left, obj) or self.test(node.right, obj)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not self.test(node.operand, obj)
        if isinstance(node, ast.Compare):
            return _compare(node.comparator, self.value(node.left, obj), self.value(node.right, obj))
        return self.value(node, obj) is True

    def check(self, node: ast._Node) -> None:
        """Reject unknown fields and functions before any data is read."""
        if isinstance(node, ast.Identifier):
            if node.name not in self.bsm and node.name not in self.known:
                raise FilterError(f"unknown field '{node.name}'")
        elif isinstance(node, ast.Attribute):
            if not (isinstance(node.owner, ast.Identifier) and node.owner.name == BSM):
                self.check(node.owner)
        elif isinstance(node, ast.Call):
            if node.func.name.lower() not in _FUNCTIONS:
                raise FilterError(f"unsupported function '{node.func.name}'")
            for arg in node.args:
                self.check(arg)
        elif isinstance(node, (ast.Compare, ast.BoolOp)):
            self.check(node.left)
            self.check(node.right)
        elif isinstance(node, ast.UnaryOp):
            self.check(node.operand)
        elif isinstance(node, ast.List):
            for item in node.val:
                self.check(item)
        elif not isinstance(node, ast._Literal):
            raise FilterError(f"unsupported expression: {type(node).__name__}")


def _temporal(value: Any) -> Any:
    parsed = parse_temporal(value)
    return parsed if parsed is not None else value


def _align(left: Any, right: Any) -> tuple[Any, Any]:
    """Make a stored value comparable with a literal (codes, dates, date-times)."""
    if isinstance(left, dict) and "kode" in left and isinstance(right, str):
        left = left["kode"]
    if isinstance(right, dict) and "kode" in right and isinstance(left, str):
        right = right["kode"]
    if isinstance(right, (date, datetime)) and isinstance(left, str):
        left = _temporal(left)
    if isinstance(left, (date, datetime)) and isinstance(right, str):
        right = _temporal(right)
    if isinstance(left, datetime) and type(right) is date:
        left = left.date()
    elif isinstance(right, datetime) and type(left) is date:
        right = right.date()
    return left, right


def _compare(comparator: ast._Comparator, left: Any, right: Any) -> bool:
    if isinstance(comparator, ast.In):
        options = right if isinstance(right, list) else [right]
        return any(_compare(ast.Eq(), left, option) for option in options)
    left, right = _align(left, right)
    if isinstance(comparator, ast.Eq):
        return bool(left == right)
    if isinstance(comparator, ast.NotEq):
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if isinstance(comparator, ast.Lt):
            return bool(left < right)
        if isinstance(comparator, ast.LtE):
            return bool(left <= right)
        if isinstance(comparator, ast.Gt):
            return bool(left > right)
        if isinstance(comparator, ast.GtE):
            return bool(left >= right)
    except TypeError:
        return False
    raise FilterError(f"unsupported comparison {type(comparator).__name__}")


def _part(field: str) -> Callable[[Any], Any]:
    def get(value: Any) -> Any:
        return getattr(_temporal(value), field)
    return get


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "contains": lambda s, sub: sub in s,
    "substringof": lambda sub, s: sub in s,
    "startswith": lambda s, prefix: s.startswith(prefix),
    "endswith": lambda s, suffix: s.endswith(suffix),
    "length": len,
    "indexof": lambda s, sub: s.find(sub),
    "substring": lambda s, start, length=None: s[start:] if length is None else s[start:start + length],
    "tolower": lambda s: s.lower(),
    "toupper": lambda s: s.upper(),
    "trim": lambda s: s.strip(),
    "concat": lambda a, b: f"{a}{b}",
    "year": _part("year"),
    "month": _part("month"),
    "day": _part("day"),
    "hour": _part("hour"),
    "minute": _part("minute"),
    "second": _part("second"),
    "date": lambda v: (lambda t: t.date() if isinstance(t, datetime) else t)(_temporal(v)),
}


_PLAIN_EQUALITY = re.compile(r"\s*[^\s()']+\s+eq\s+'([A-Za-z][^'\\\"\x00-\x1f]*)'\s*")


def plain_equality_literal(text: str | None) -> str | None:
    """The string literal of a ``$filter`` that is one field compared to one text (``key eq
    'fritak:1'``), which every object the filter keeps has in its stored JSON as it is: the
    store pre-selects by it, and the filter still decides. Finding a case file by its external
    id read and tested every case file of the arkivdel, so each archiving cost more the more
    cases there were (a real archive indexes the key). None for any other filter, and for a
    literal that may be a date or a number compared by value (it starts with no letter)."""
    found = _PLAIN_EQUALITY.fullmatch(text) if text else None
    return found.group(1) if found else None


def compile_filter(text: str, known_fields: frozenset[str]) -> Callable[[dict[str, Any]], bool]:
    """Parse ``$filter`` once; return a predicate over stored objects."""
    hidden, names = _hide_bsm_names(text)
    try:
        tree = ODataParser().parse(ODataLexer().tokenize(hidden))
    except ODataException as exc:
        raise FilterError(f"invalid $filter: {exc}") from exc
    except Exception as exc:  # the parser raises a few plain errors on odd input
        raise FilterError(f"invalid $filter: {exc.__class__.__name__}") from exc
    evaluator = _Evaluator(known_fields, names)
    evaluator.check(tree)
    return lambda obj: evaluator.test(tree, obj)


def compile_orderby(text: str, known_fields: frozenset[str]) -> Callable[[list[dict[str, Any]]], None]:
    """Parse ``$orderby`` (``field [asc|desc], path/to/field desc``); return an in-place sorter."""
    hidden, names = _hide_bsm_names(text)
    keys: list[tuple[list[str], bool]] = []
    for clause in filter(None, (c.strip() for c in hidden.split(","))):
        words = clause.split()
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise FilterError(f"invalid $orderby clause '{clause}'")
        path = words[0].split("/")
        if path[0] in names:
            path = [BSM, names[path[0]]]
        elif path[0] == BSM and len(path) == 2:
            path = [BSM, names.get(path[1], path[1])]
        elif path[0] not in known_fields:
            raise FilterError(f"unknown field '{path[0]}' in $orderby")
        keys.append((path, len(words) == 2 and words[1].lower() == "desc"))

    def lookup(obj: dict[str, Any], path: list[str]) -> Any:
        value: Any = obj
        for step in path:
            value = value.get(step) if isinstance(value, dict) else None
        if isinstance(value, dict) and "kode" in value:
            value = value["kode"]
        return _temporal(value)

    def sort(items: list[dict[str, Any]]) -> None:
        for path, descending in reversed(keys):  # stable sort, last key first
            present = [i for i in items if lookup(i, path) is not None]
            missing = [i for i in items if lookup(i, path) is None]
            try:
                present.sort(key=lambda i: lookup(i, path), reverse=descending)
            except TypeError:
                present.sort(key=lambda i: str(lookup(i, path)), reverse=descending)
            items[:] = present + missing

    return sort


_SEARCH_FIELDS = ("tittel", "offentligTittel", "beskrivelse", "navn", "filnavn", "mappeID")


def matches_search(term: str, obj: dict[str, Any]) -> bool:
    """``$search``: case-insensitive substring over the obvious text fields."""
    needle = term.strip().strip("'\"").lower()
    return any(needle in str(obj.get(f, "")).lower() for f in _SEARCH_FIELDS)
