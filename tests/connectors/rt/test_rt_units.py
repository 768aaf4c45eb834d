"""Pure unit tests: TicketSQL quoting, paging, dates, listener decoding. No RT needed."""

from __future__ import annotations

from datetime import date, time

import pytest

from connectors.rt.models import parse_rt_datetime, rt_due
from connectors.rt.pagination import Pager
from connectors.rt.query import QueryValueError, all_of, cf, eq, field, quote
from hub.errors import MalformedResponse, PermanentError
from sandbox.rt.install import _decode_ipv4, _decode_ipv6, _loopback


def test_quote_escapes_single_quotes_and_backslashes() -> None:
    assert quote("plain") == "'plain'"
    assert quote("o'brien") == r"'o\'brien'"
    assert quote("a\\b") == r"'a\\b'"
    # A trailing backslash must not swallow the closing quote.
    assert quote("ends\\") == r"'ends\\'"
    assert quote("\\'") == r"'\\\''"


def test_quote_refuses_custom_field_references_and_nul() -> None:
    with pytest.raises(QueryValueError):
        quote("CF.{ExternalRef}")
    with pytest.raises(QueryValueError):
        quote("cf.Model")
    with pytest.raises(QueryValueError):
        quote("a\0b")


def test_ticketsql_condition_for_custom_field() -> None:
    assert eq(cf("ExternalRef"), "dfo:1'2") == r"'CF.{ExternalRef}' = 'dfo:1\'2'"
    assert all_of(eq(field("Catalog"), 2), eq(field("Status"), "new")) == \
        "( Catalog = '2' ) AND ( Status = 'new' )"
    for bad in ("Ext'Ref", "Ext}Ref", "a\\b"):
        with pytest.raises(QueryValueError):
            cf(bad)
    with pytest.raises(QueryValueError):
        field("Status = 'x' OR id")


def _page(ids: list[int], page: int, pages: int | None) -> dict[str, object]:
    return {"items": [{"id": str(i)} for i in ids], "page": page, "pages": pages, "count": len(ids)}


def test_pager_walks_known_page_count() -> None:
    pager = Pager(per_page=2)
    got = pager.accept(_page([1, 2], 1, 2))
    assert not pager.finished and pager.params() == {"page": 2, "per_page": 2}
    got += pager.accept(_page([3], 2, 2))
    assert pager.finished and [i["id"] for i in got] == ["1", "2", "3"]


def test_pager_without_total_stops_on_empty_page_and_skips_repeats() -> None:
    pager = Pager(per_page=2)
    pager.accept(_page([1, 2], 1, None))
    assert [i["id"] for i in pager.accept(_page([2, 3], 2, None))] == ["3"]
    assert not pager.finished
    assert pager.accept(_page([], 3, None)) == [] and pager.finished


def test_pager_detects_a_loop_and_bounds_pages() -> None:
    pager = Pager(per_page=2)
    pager.accept(_page([1, 2], 1, None))
    with pytest.raises(PermanentError, match="loop"):
        pager.accept(_page([1, 2], 1, None))
    bounded = Pager(per_page=1, max_pages=2)
    bounded.accept(_page([1], 1, None))
    with pytest.raises(PermanentError, match="more than 2 pages"):
        bounded.accept(_page([2], 2, None))
    with pytest.raises(MalformedResponse):  # a garbled answer, retried; not a permanent verdict
        Pager().accept({"message": "not a collection"})


def test_due_dates_are_oslo_local_time_sent_as_utc() -> None:
    assert rt_due(date(2026, 12, 1), time(16, 0)) == "2026-12-01 15:00:00"  # CET, UTC+1
    assert rt_due(date(2026, 6, 1), time(16, 0)) == "2026-06-01 14:00:00"  # CEST, UTC+2
    parsed = parse_rt_datetime("2026-06-01T14:00:00Z")
    assert parsed is not None and parsed.hour == 16 and parsed.date() == date(2026, 6, 1)
    assert str(parsed.tzinfo) == "Europe/Oslo"
    assert parse_rt_datetime("1970-01-01T00:00:00Z") is None


def test_listener_addresses_decode_from_proc_net() -> None:
    assert _decode_ipv4("0100007F") == "127.0.0.1"
    assert _decode_ipv4("00000000") == "0.0.0.0"
    assert _decode_ipv6("00000000000000000000000001000000") == "::1"
    assert _loopback("127.0.0.1") and _loopback("::1") and _loopback("::ffff:127.0.0.1")
    assert not _loopback("0.0.0.0") and not _loopback("::")
