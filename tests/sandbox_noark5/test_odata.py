"""$filter (incl. virksomhetsspesifikkeMetadata), $orderby, $top/$skip paging, $search."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.sandbox_noark5.conftest import PAGE_SIZE
from tests.sandbox_noark5.generic_client import RelationClient

KEY = "vnd-oslomet-v1:eksternid"
LIST = "sakarkiv/saksmappe/"


@pytest.fixture
def three(make_saksmappe: Callable[..., dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        make_saksmappe("Søknad om permisjon", offentligTittel="Søknad om permisjon *****",
                       virksomhetsspesifikkeMetadata={KEY: "nettskjema:1"}),
        make_saksmappe("Søknad om fritak", saksstatus={"kode": "A"},
                       virksomhetsspesifikkeMetadata={KEY: "nettskjema:2", "vnd-oslomet-v1:kilde": "x"}),
        make_saksmappe("Klage på vedtak", virksomhetsspesifikkeMetadata={KEY: "dfo:3"}),
    ]


def titles(client: RelationClient, arkivdel: dict[str, Any], **query: Any) -> list[str]:
    return [m["tittel"] for m in client.list(arkivdel, LIST, **query)]


def test_filter_on_virksomhetsspesifikke_metadata_both_spellings(
        client: RelationClient, arkivdel: dict[str, Any], three: list[dict[str, Any]]) -> None:
    assert titles(client, arkivdel, filter=f"{KEY} eq 'nettskjema:2'") == ["Søknad om fritak"]
    assert titles(client, arkivdel, filter=f"virksomhetsspesifikkeMetadata/{KEY} eq 'dfo:3'") == ["Klage på vedtak"]
    assert titles(client, arkivdel, filter=f"startswith({KEY}, 'nettskjema:')") == \
        ["Søknad om permisjon", "Søknad om fritak"]
    assert titles(client, arkivdel, filter=f"{KEY} eq 'nettskjema:9'") == []


def test_filter_boolean_logic_and_string_functions(
        client: RelationClient, arkivdel: dict[str, Any], three: list[dict[str, Any]]) -> None:
    assert titles(client, arkivdel, filter="startswith(tittel, 'Søknad') and saksstatus/kode eq 'A'") == \
        ["Søknad om fritak"]
    assert titles(client, arkivdel, filter="contains(tittel, 'vedtak') or saksstatus/kode eq 'A'") == \
        ["Søknad om fritak", "Klage på vedtak"]
    assert titles(client, arkivdel, filter="not startswith(tittel, 'Søknad')") == ["Klage på vedtak"]
    assert titles(client, arkivdel, filter="contains(offentligTittel, '*****')") == ["Søknad om permisjon"]
    assert titles(client, arkivdel, filter=f"mappeID eq '{three[2]['mappeID']}'") == ["Klage på vedtak"]


def test_filter_on_dates(client: RelationClient, arkivdel: dict[str, Any], three: list[dict[str, Any]]) -> None:
    year = three[0]["saksaar"]
    assert len(titles(client, arkivdel, filter=f"year(opprettetDato) eq {year}")) == 3
    assert titles(client, arkivdel, filter=f"year(opprettetDato) lt {year}") == []
    assert len(titles(client, arkivdel, filter="opprettetDato gt 2020-01-01T00:00:00+01:00")) == 3
    assert titles(client, arkivdel, filter=f"saksdato ge {year + 1}-01-01") == []


def test_bad_filters_answer_400_with_feil(client: RelationClient, arkivdel: dict[str, Any]) -> None:
    for bad in ("tittel eq", "tittel eq 'open", "nosuchfield eq 1", "frobnicate(tittel)"):
        response = client.http.get(client.href(arkivdel, LIST, filter=bad))
        assert response.status_code == 400, bad
        assert response.json()["feil"]["kode"] == 400


def test_empty_result_is_200_with_count_0(client: RelationClient, arkivdel: dict[str, Any]) -> None:
    response = client.http.get(client.href(arkivdel, LIST))
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 0 and "results" not in body  # the standard: no "results" when empty
    assert body["_links"]["self"]["href"]


def test_server_paging_follows_next_links(
        client: RelationClient, arkivdel: dict[str, Any], make_saksmappe: Callable[..., Any]) -> None:
    made = [make_saksmappe(f"Sak {i:02d}")["systemID"] for i in range(PAGE_SIZE + 3)]
    first = client.follow(arkivdel, LIST)
    assert first["count"] == len(made) and len(first["results"]) == PAGE_SIZE
    assert "next" in first["_links"]
    collected = [m["systemID"] for m in client.list(arkivdel, LIST)]
    assert collected == made


def test_top_skip_and_orderby(
        client: RelationClient, arkivdel: dict[str, Any], make_saksmappe: Callable[..., Any]) -> None:
    for i in range(8):
        make_saksmappe(f"Sak {i}")
    page = client.follow(arkivdel, LIST, orderby="tittel desc", top=3, skip=2)
    assert [m["tittel"] for m in page["results"]] == ["Sak 5", "Sak 4", "Sak 3"]
    assert page["count"] == 8 and "next" not in page["_links"]
    everything = [m["tittel"] for m in client.list(arkivdel, LIST, orderby="tittel desc", top=7)]
    assert everything == [f"Sak {i}" for i in range(7, 0, -1)]  # 7 items over two server pages


def test_search(client: RelationClient, arkivdel: dict[str, Any], three: list[dict[str, Any]]) -> None:
    assert titles(client, arkivdel, search="'fritak'") == ["Søknad om fritak"]


def test_whole_query_url_encoded_is_understood(
        client: RelationClient, arkivdel: dict[str, Any], three: list[dict[str, Any]]) -> None:
    """Some clients (noark5-tester) percent-encode the entire query string, '=' included."""
    from urllib.parse import quote_plus
    base = client.href(arkivdel, LIST)
    response = client.http.get(base + "?" + quote_plus("$filter=tittel eq 'Klage på vedtak'"))
    assert [m["tittel"] for m in response.json()["results"]] == ["Klage på vedtak"]


@pytest.mark.parametrize(("text", "literal"), [
    (f"{KEY} eq 'nettskjema:2'", "nettskjema:2"),
    (f"virksomhetsspesifikkeMetadata/{KEY} eq 'dfo:3'", "dfo:3"),
    ("saksstatus/kode eq 'A'", "A"),
    ("tittel eq 'Søknad om fritak'", "Søknad om fritak"),
    (f"{KEY} eq 'nettskjema:2' and tittel eq 'x'", None),  # more than one comparison
    (f"{KEY} ne 'nettskjema:2'", None),
    (f"startswith({KEY}, 'nettskjema:')", None),
    ("saksdato eq '2026-12-05'", None),  # may be a date, compared by value
    ("mappeID eq '2026/3'", None),
    ("tittel eq 'O''Brien'", None),  # an escaped quote
    ("tittel eq 'a\"b'", None),  # escaped in the stored JSON
    (None, None),
])
def test_a_filter_of_one_equality_pre_selects_by_its_literal(text: str | None, literal: str | None) -> None:
    from sandbox.noark5.odata import plain_equality_literal

    assert plain_equality_literal(text) == literal


def test_an_equality_filter_keeps_exactly_the_matches_the_pre_selection_only_narrows(
        client: RelationClient, arkivdel: dict[str, Any], three: list[dict[str, Any]],
        make_saksmappe: Callable[..., dict[str, Any]]) -> None:
    """Stored texts that contain the literal, in another case or as part of a longer value, are
    pre-selected and then left out by the filter itself."""
    make_saksmappe("Longer key", virksomhetsspesifikkeMetadata={KEY: "nettskjema:20"})
    make_saksmappe("Other case", virksomhetsspesifikkeMetadata={KEY: "NETTSKJEMA:2"})
    make_saksmappe("In the title: nettskjema:2", virksomhetsspesifikkeMetadata={KEY: "dfo:4"})
    assert titles(client, arkivdel, filter=f"{KEY} eq 'nettskjema:2'") == ["Søknad om fritak"]
    assert titles(client, arkivdel, filter=f"{KEY} eq 'NETTSKJEMA:2'") == ["Other case"]
    assert titles(client, arkivdel, filter="saksstatus/kode eq 'A'") == ["Søknad om fritak"]
