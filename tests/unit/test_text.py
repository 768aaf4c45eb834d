"""Hostile text is inert: escaped markdown renders as exactly the text typed, with no tag,
entity, link, image, autolink, emphasis, code, table, heading, list or quote from it.

Rendered by markdown-it-py (a CommonMark renderer, with the GitHub tables and
strikethrough the Prefect UI's renderer has) and checked by a strict scan of the escaped
source for what GitHub-flavoured renderers turn into links by themselves (``https://``,
``www.``, ``name@host``), which markdown-it without linkify does not do.
"""

from __future__ import annotations

import re
from datetime import date

from hypothesis import example, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from stdnum.no import fodselsnummer

from hub.privacy import contains_fnr
from hub.text import (
    email_problem,
    for_prefect,
    html_escape,
    markdown_escape,
    markdown_link,
    normalise_email,
    table_for_prefect,
)

MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])  # raw HTML is on in this preset
ALLOWED_BLOCKS = {"paragraph_open", "paragraph_close", "inline"}
ALLOWED_INLINE = {"text", "softbreak"}
UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\u202a-\u202e\u2066-\u2069]")

# Pieces of markup, mixed with words and white space: far more likely to hit a renderer's
# corner than uniformly random text.
MARKUP = ["<b>", "</b>", "<img src=x onerror=alert(1)>", "<script>", "<!--", "-->", "<a href='x'>", "&lt;",
          "&#60;", "&amp;", "[", "]", "(", ")", "![", "](", "[x]: http://evil.example", "<http://evil.example>",
          "https://evil.example/a_b", "www.evil.example", "kari@oslomet.no", "mailto:kari@oslomet.no", "*",
          "**", "_", "__", "`", "```", "~~", "~~~", "#", "## ", ">", "> ", "- ", "+ ", "1. ", "2) ", "---",
          "===", "|", "| a | b |", "|---|---|", "\\", "\\\\", "    ", "\t", "\n", "\r\n", "\r", "\n\n", " ",
          "  \n", ":", "//", ".", "@", "!", "=", "{", "}", "$", "^", "\x00", "\u202e", "æøå", "Ødegård"]
hostile = st.lists(st.one_of(st.sampled_from(MARKUP), st.text(max_size=6)), max_size=25).map("".join)
any_text = st.one_of(st.text(), hostile)


def lines_of(text: str) -> list[str]:
    return [line.strip() for line in re.split(r"\r\n|\r|\n", UNSAFE.sub("\ufffd", text))]


def expected_text(text: str) -> str:
    """What a reader should see: the text, each line trimmed, a run of blank lines as one
    paragraph break."""
    paragraphs: list[list[str]] = [[]]
    for line in lines_of(text):
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join("\n".join(p) for p in paragraphs if p)


def rendered_text(markdown: str) -> str:
    """The text a renderer shows for ``markdown``; fails on any token but plain text."""
    paragraphs = []
    for token in MD.parse(markdown):
        assert token.type in ALLOWED_BLOCKS, (token.type, markdown)
        if token.type == "inline":
            kinds = {child.type for child in token.children or []}
            assert kinds <= ALLOWED_INLINE, (kinds, markdown)
            paragraphs.append("".join("\n" if c.type == "softbreak" else c.content for c in token.children or []))
    return "\n\n".join(paragraphs)


def unescaped(markdown: str) -> str:
    """``markdown`` with every backslash-escaped character replaced by a blank: what is left
    is what a markdown lexer may still read as syntax."""
    return re.sub(r"\\[!-/:-@\[-`{-~]", " ", markdown)


def assert_no_autolink_triggers(markdown: str) -> None:
    left = unescaped(markdown)
    assert "://" not in left and not re.search(r"(?i)(?<![a-z0-9])www\.", left), markdown
    assert not re.search(r"[<>\[\]&`*_~|@]", left), markdown


@settings(max_examples=400, deadline=None)
@given(any_text)
@example("<b>Kari</b> <img src=x onerror=alert(1)>")
@example("[klikk](javascript:alert(1)) ![x](http://evil.example/p.png) <http://evil.example>")
@example("Se https://evil.example og www.evil.example, skriv til kari@oslomet.no")
@example("# overskrift\n===\n- punkt\n1. nummer\n> sitat\n    kode\n| a | b |\n|---|---|")
@example("&lt;b&gt; &#60;img&#62; \\<b\\> a\\\nb  \nc")
@example("://")  # found by hypothesis in CI: a "://" with no scheme before it was left as it was
def test_escaped_markdown_renders_as_exactly_the_text(text: str) -> None:
    markdown = markdown_escape(text)
    assert rendered_text(markdown) == expected_text(text)
    html = MD.render(markdown)
    assert "<" not in html.replace("<p>", "").replace("</p>", ""), html
    assert_no_autolink_triggers(markdown)


@settings(max_examples=300, deadline=None)
@given(any_text)
def test_inline_escape_is_one_line_of_plain_text(text: str) -> None:
    markdown = markdown_escape(text, inline=True)
    assert "\n" not in markdown and "\r" not in markdown
    assert rendered_text(markdown) == " ".join(line for line in lines_of(text) if line)
    # the same text as a table cell: still one cell, nothing but text inside
    cell_table = f"| a |\n|---|\n| {markdown} |"
    tokens = [t for t in MD.parse(cell_table) if t.type == "inline"]
    assert len(tokens) == 2 and all({c.type for c in t.children or []} <= {"text"} for t in tokens)
    assert_no_autolink_triggers(markdown)


@st.composite
def fodselsnumre(draw: st.DrawFn) -> str:
    born = draw(st.dates(date(1900, 1, 1), date(2039, 12, 31)))
    individual = draw(st.integers(0, 999))
    day = born.day + (40 if draw(st.booleans()) else 0)  # D-nummer: day + 40
    base = f"{day:02d}{born:%m%y}{individual:03d}"
    first = fodselsnummer.calc_check_digit1(base)
    number = base + first + fodselsnummer.calc_check_digit2(base + first)
    if not fodselsnummer.is_valid(number):  # a check digit of 10: no such number exists
        return "15076500565"
    return number


@settings(max_examples=300, deadline=None)
@given(any_text, fodselsnumre(), any_text, st.sampled_from(["", " ", ".", "-"]))
def test_for_prefect_masks_a_fodselsnummer_anywhere(before: str, fnr: str, after: str, separator: str) -> None:
    written = f"{fnr[:6]}{separator}{fnr[6:]}"
    shown = for_prefect(f"{before} {written} {after}")
    assert fnr not in shown and written not in shown
    assert not contains_fnr(rendered_text(shown))
    assert not contains_fnr(for_prefect(f"{before} {written} {after}", inline=True))


def test_what_a_case_handler_sees_for_a_hostile_name() -> None:
    shown = for_prefect("Kari <b>Nordmann</b> <img src=x>", inline=True)
    assert MD.render(shown) == "<p>Kari &lt;b&gt;Nordmann&lt;/b&gt; &lt;img src=x&gt;</p>\n"
    assert for_prefect("Ødegård, Åsmund") == "Ødegård, Åsmund"  # plain text is left as it is
    assert for_prefect("onboarding:10006:account 2026-12-01 10:00") == "onboarding:10006:account 2026-12-01 10:00"


def test_control_and_direction_characters_become_a_replacement_character() -> None:
    assert markdown_escape("a\x00b\u202ec\x1bd") == "a\ufffdb\ufffdc\ufffdd"
    assert html_escape("x\x00") == "x\ufffd"


def test_html_escape() -> None:
    assert html_escape("<img src=x onerror=\"alert('1')\"> & co") == \
        "&lt;img src=x onerror=&quot;alert(&#x27;1&#x27;)&quot;&gt; &amp; co"


def test_markdown_link_escapes_the_label_and_keeps_only_web_targets() -> None:
    link = markdown_link("Vedlegg: <img src=x> [x](y)", "http://127.0.0.1:8080/dok/1 (kopi)")
    tokens = MD.parseInline(link)[0].children or []
    assert [t.type for t in tokens] == ["link_open", "text", "link_close"]
    assert tokens[0].attrGet("href") == "http://127.0.0.1:8080/dok/1%20%28kopi%29"
    assert tokens[1].content == "Vedlegg: <img src=x> [x](y)"
    assert markdown_link("x", "javascript:alert(1)") == "x"
    assert markdown_link("x", "data:text/html,<b>") == "x"


def test_table_cells_are_masked_and_escaped_and_numbers_kept() -> None:
    rows = table_for_prefect([{"key": "<b>1</b>", "count": 3, "ok": True, "none": None,
                               "reason": "fnr 15076500565\nline two"}])
    assert rows == [{"key": "\\<b\\>1\\</b\\>", "count": 3, "ok": True, "none": None,
                     "reason": "fnr \\*\\*\\*\\*\\*\\*\\*\\*\\*\\*\\* line two"}]


def test_email_addresses_are_checked_by_the_validator() -> None:
    assert email_problem("kari@") == "There must be something after the @-sign."
    assert email_problem("kari@oslomet.no") is None
    assert email_problem("a@b.no\nBcc: x@y.no") is not None
    assert email_problem("Kari <kari@oslomet.no>") is not None
    assert email_problem("kari@intranett", deliverable=False) is None
    assert email_problem("kari@intranett") is not None  # a form's address must work on the internet
    assert normalise_email("Kari.Nordmann@OsloMet.NO") == "Kari.Nordmann@oslomet.no"


def test_the_reconciliation_report_shows_a_hostile_detail_as_text() -> None:
    from datetime import datetime

    from hub.reconcile import Finding, Report
    from hub.settings import OSLO

    report = Report(checked=1, findings=[Finding(
        "unchecked", "fritak", "42", "archive case file fritak:42:sak",
        "[n5ws] 400: <img src=x onerror=alert(1)> | 15076500565 [x](http://evil.example)")])
    markdown = report.markdown(datetime(2026, 12, 1, 23, 0, tzinfo=OSLO))
    html = MD.render(markdown)
    assert "<img" not in html and "<a " not in html and "15076500565" not in markdown
    rows = [t for t in MD.parse(markdown) if t.type == "tr_open"]
    assert len(rows) == 4  # two header rows, two body rows: the "|" in the detail opened no cell
    assert "| **unchecked** | fritak | 42 | archive case file fritak:42:sak |" in markdown
