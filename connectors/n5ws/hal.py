"""Relations and URI templates: how the connector finds its way through an N5WS core.

Only relation keys are fixed by the standard; hrefs are whatever the core says. A
list relation is usually templated, e.g.
``.../saksmappe/{?$filter&$orderby&$top&$skip&$search}``; :func:`expand` fills it in
(RFC 6570 form-style query expansion, also accepting the ``&``-separated variable lists
that N5WS examples use).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import quote

__all__ = ["REL", "Rel", "expand", "odata_string"]

REL = "https://rel.arkivverket.no/noark5/v5/api/"


class Rel:
    """The relation keys this connector follows."""

    ARKIVSTRUKTUR = REL + "arkivstruktur/"
    SAKARKIV = REL + "sakarkiv/"
    ADMIN_SYSTEM = REL + "admin/system/"
    ARKIVDEL = REL + "arkivstruktur/arkivdel/"
    SAKSMAPPE = REL + "sakarkiv/saksmappe/"
    NY_SAKSMAPPE = REL + "sakarkiv/ny-saksmappe/"
    JOURNALPOST = REL + "sakarkiv/journalpost/"
    NY_JOURNALPOST = REL + "sakarkiv/ny-journalpost/"
    REGISTRERING = REL + "arkivstruktur/registrering/"
    KORRESPONDANSEPART = REL + "arkivstruktur/korrespondansepart/"
    NY_KORRESPONDANSEPARTPERSON = REL + "arkivstruktur/ny-korrespondansepartperson/"
    DOKUMENTBESKRIVELSE = REL + "arkivstruktur/dokumentbeskrivelse/"
    NY_DOKUMENTBESKRIVELSE = REL + "arkivstruktur/ny-dokumentbeskrivelse/"
    DOKUMENTOBJEKT = REL + "arkivstruktur/dokumentobjekt/"
    FIL = REL + "arkivstruktur/fil/"


_EXPRESSION = re.compile(r"\{([+#./;?&]?)([^}]*)\}")


def _encode(value: object) -> str:
    return quote(str(value), safe="")


def expand(href: str, variables: Mapping[str, object | None] | None = None) -> str:
    """Expand the URI template ``href``; variables that are None or absent are left out."""
    values = {k: v for k, v in (variables or {}).items() if v is not None}

    def replace(match: re.Match[str]) -> str:
        operator, names = match.group(1), [n.strip() for n in re.split(r"[,&]", match.group(2))]
        names = [n for n in names if n]
        if operator in ("?", "&"):
            pairs = [f"{_encode(n).replace('%24', '$')}={_encode(values[n])}" for n in names if n in values]
            if not pairs:
                return ""
            return ("?" if operator == "?" else "&") + "&".join(pairs)
        return ",".join(_encode(values[n]) for n in names if n in values)

    expanded = _EXPRESSION.sub(replace, href)
    if "?" in expanded.split("#")[0]:  # a template with a fixed query part then "{?...}"
        head, _, tail = expanded.partition("?")
        expanded = head + "?" + tail.replace("?", "&")
    return expanded


def odata_string(value: str) -> str:
    """An OData string literal: single quotes, inner quotes doubled."""
    return "'" + value.replace("'", "''") + "'"
