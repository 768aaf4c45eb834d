"""Pure unit tests: URI-template expansion, OData literals, reading odd bodies (MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from connectors.n5ws import N5wsArchive, N5wsConfig
from connectors.n5ws.hal import expand, odata_string
from hub.errors import PermanentError

LIST = "http://core/api/sakarkiv/saksmappe/{?$filter&$orderby&$top&$skip&$search}"


def test_expand_fills_given_variables_and_drops_the_rest() -> None:
    assert expand(LIST) == "http://core/api/sakarkiv/saksmappe/"
    assert expand(LIST, {"$filter": "vnd-oslomet-v1:eksternid eq 'a b'", "$top": 5}) == (
        "http://core/api/sakarkiv/saksmappe/?$filter=vnd-oslomet-v1%3Aeksternid%20eq%20%27a%20b%27&$top=5")
    assert expand("http://core/x{?a,b}", {"b": "ø"}) == "http://core/x?b=%C3%B8"
    assert expand("http://core/x?fixed=1{?a}", {"a": "1"}) == "http://core/x?fixed=1&a=1"
    assert expand("http://core/{id}/fil", {"id": "a/b"}) == "http://core/a%2Fb/fil"


def test_odata_string_doubles_quotes() -> None:
    assert odata_string("O'Brien") == "'O''Brien'"


async def test_a_core_answering_an_unexpected_shape_is_a_permanent_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/api"):
            return httpx.Response(200, json={"_links": ["not", "an", "object"]})
        return httpx.Response(404)

    archive = N5wsArchive(N5wsConfig(base_url="http://core/noark5v5", username="u", password="p"),
                          transport=httpx.MockTransport(handler))
    try:
        with pytest.raises(PermanentError, match="cannot read"):
            await archive.find_case_files("x")
    finally:
        await archive.aclose()
