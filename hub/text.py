"""User text made inert wherever the hub renders it; e-mail addresses checked.

Whatever a person types — a name, the grounds of an application, a file name, an address,
a reason that quotes them — is data, never markup. The hub renders text in these places:

- **Markdown shown by the Prefect UI**: run-input descriptions (the case handler's resume
  form), markdown artifacts, and table artifacts (the UI renders every string cell of a
  table as markdown, raw HTML included). :func:`markdown_escape` backslash-escapes every
  character that could start a tag, an entity, a link, an image, an autolink, emphasis,
  code, a table, a heading, a list or a quote. CommonMark lets any ASCII punctuation be
  escaped and then shows it as itself, so the rendered text is exactly the input (leading
  and trailing blanks of each line aside).
- **HTML** (an e-mail's HTML alternative): :func:`html_escape`.
- **Anything handed to Prefect** (descriptions, artifacts, run input): :func:`for_prefect`
  masks personal data (:func:`hub.privacy.mask`) and then escapes for markdown;
  :func:`table_for_prefect` does the same for every string cell of a table artifact.
  :func:`markdown_link` makes a link whose label is user text and whose target the hub
  chose (an archive URL), and refuses any scheme but http(s).

Control characters (NUL breaks PostgreSQL text), lone surrogates and bidirectional
overrides (which make a file name read backwards) become U+FFFD in every escaped text.

:func:`email_problem` checks an address with the maintained ``email-validator`` (syntax
and domain form only, no DNS lookup): None if it is usable, else why not, in words a person
can act on.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from email_validator import EmailNotValidError, validate_email

from hub.privacy import mask

__all__ = ["markdown_escape", "html_escape", "for_prefect", "table_for_prefect", "markdown_link",
           "email_problem", "normalise_email"]

# Characters that start markup anywhere in a line: backslash, code, emphasis and
# strikethrough, links and images, raw HTML and autolinks, entities, table cells, and
# "@" (an e-mail address is a link in GitHub-flavoured markdown).
_ALWAYS = frozenset("\\`*_[]<>&|~@")
# At the start of a line they begin a heading, a list, a quote or a setext underline.
_LINE_START = frozenset("#>-+=")
_ORDERED = re.compile(r"^(\d{1,9})([.)])")
# Bare URLs become links in GitHub-flavoured markdown: break "://" and "www.".
_SCHEME = re.compile(r":(?=//)")  # every "://": what comes before it may be cut off by a line or a cell
_WWW = re.compile(r"(?<![A-Za-z0-9])(www)\.", re.IGNORECASE)
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")
_LINE_END = re.compile(r"\r\n|\r|\n")


def _clean(text: str) -> str:
    return _UNSAFE.sub("\ufffd", text)


def _escape_line(line: str) -> str:
    out = []
    for i, ch in enumerate(line):
        if ch in _ALWAYS or (i == 0 and ch in _LINE_START):
            out.append("\\")
        out.append(ch)
    escaped = _ORDERED.sub(r"\1\\\2", "".join(out))
    return _WWW.sub(r"\1\\.", _SCHEME.sub(r"\\:", escaped))


def markdown_escape(text: str, *, inline: bool = False) -> str:
    """``text`` as markdown that renders as exactly this text and nothing else.

    Each line loses its leading and trailing white space (indentation would make a code block);
    runs of blank lines become one paragraph break. ``inline=True`` joins the lines with a
    space, for a heading, a list item or a table cell.
    """
    lines = [line.strip() for line in _LINE_END.split(_clean(text or ""))]
    if inline:
        return " ".join(_escape_line(line) for line in lines if line)
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        if line:
            paragraphs[-1].append(_escape_line(line))
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join("\n".join(p) for p in paragraphs if p)


def html_escape(text: str) -> str:
    """``text`` for an HTML element or attribute value (quotes escaped too)."""
    return html.escape(_clean(text or ""), quote=True)


def for_prefect(text: object, *, inline: bool = False) -> str:
    """Text to hand to Prefect: personal data masked, then escaped as markdown."""
    return markdown_escape(mask(str(text)), inline=inline)


def table_for_prefect(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows for a table artifact: every string cell masked and escaped (one line each);
    numbers, booleans and empty cells as they are."""
    return [{key: for_prefect(value, inline=True) if isinstance(value, str) else value
             for key, value in row.items()} for row in rows]


def markdown_link(label: str, url: str) -> str:
    """``[label](url)`` with the label escaped, or the escaped label alone if ``url`` is not
    an http(s) URL. Characters that could end the link target early are percent-encoded.

    Keep user text out of the label: the Prefect UI shows a link's label verbatim, so its
    escapes would show (it stays inert either way). Put it beside the link instead."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return for_prefect(label, inline=True)
    target = quote(_clean(url), safe=":/?#@!$&'*+,;=%-._~[]")
    return f"[{for_prefect(label, inline=True)}]({target})"


def normalise_email(address: str, *, deliverable: bool = True) -> str:
    """The address in its normal form (domain lower-cased, Unicode normalised); raises
    ``ValueError`` with the reason if it is not a usable e-mail address.

    ``deliverable=False`` also accepts domains that only work on a private network (for
    the SMTP connector, whose server decides)."""
    try:
        checked = validate_email(address, check_deliverability=False, globally_deliverable=deliverable)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from None
    return str(checked.normalized)


def email_problem(address: str, *, deliverable: bool = True) -> str | None:
    """None if ``address`` is a usable e-mail address, else why not (the validator's words)."""
    try:
        normalise_email(address, deliverable=deliverable)
    except ValueError as exc:
        return str(exc)
    return None
