"""Pure unit tests: FIQL/OData quoting, 206 paging, dates, status mapping, config.

The sandbox's own FIQL parser (an independent implementation) checks that what the
builder writes means what it should: the builder's output is parsed back here.
"""

from __future__ import annotations

from datetime import date, time
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from connectors.topdesk import TopdeskConfig, TopdeskTicketing
from connectors.topdesk.client import incident_path
from connectors.topdesk.fiql import QueryValueError, all_of, any_of, eq, in_, ne, odata_all, odata_eq, quote
from connectors.topdesk.models import TdIncident, parse_td_datetime, port_status, td_target_date
from connectors.topdesk.pagination import Pager
from hub.errors import InvalidInput, PermanentError
from hub.ports.ticketing import TicketingPort
from sandbox.topdesk import fiql as sandbox_fiql
from sandbox.topdesk.assets import parse_filter

STATUS_MAP = {"new": "Logged", "open": "In progress", "resolved": "Closed", "rejected": "Rejected"}


def config(**overrides: Any) -> TopdeskConfig:
    return TopdeskConfig.model_validate({"base_url": "http://127.0.0.1:9/tas/api/", "username": "hub",
                                         "app_password": SecretStr("x"), **overrides})


def test_quote_escapes_quotes_and_backslashes() -> None:
    assert quote("plain") == '"plain"'
    assert quote('say "hi"') == r'"say \"hi\""'
    assert quote("ends\\") == r'"ends\\"'
    assert quote(True) == "true" and quote(3) == "3"
    with pytest.raises(QueryValueError):
        quote("a\0b")


@pytest.mark.parametrize("value", ['o\'brien', 'a"b', "x;y==1,(z)", "back\\slash\\", "sp ace", "ø/å:æ"])
def test_builder_output_parses_back_to_the_same_value(value: str) -> None:
    node = sandbox_fiql.parse(eq("optionalFields1.text1", value))
    assert node == sandbox_fiql.Comparison("optionalFields1.text1", "==", (value,))


def test_conditions_combine_with_and_binding_tighter_than_or() -> None:
    query = all_of(eq("closed", False), any_of(eq("operatorGroup.name", "Equipment"), ne("number", "I 1")),
                   in_("status", ["firstLine", "secondLine"]))
    assert query == ('closed==false;(operatorGroup.name=="Equipment",number!="I 1");'
                     'status=in=("firstLine","secondLine")')
    node = sandbox_fiql.parse(query)
    assert isinstance(node, sandbox_fiql.Junction) and node.kind == "and" and len(node.parts) == 3
    assert all_of(eq("number", "a,b")) == 'number=="a,b"'  # a comma inside quotes is no or-group
    for bad in ("optionalFields1.text1;x==1", "a b", "1abc", ""):
        with pytest.raises(QueryValueError):
            eq(bad, "v")
    with pytest.raises(QueryValueError):
        all_of()


def test_odata_filter_doubles_quotes_and_parses_back() -> None:
    where = odata_all(odata_eq("hub-reference", "x' or 'a'='a"), odata_eq("model", "Dell Latitude 7450"))
    assert where == "hub-reference eq 'x'' or ''a''=''a' and model eq 'Dell Latitude 7450'"
    assert parse_filter(where) == [("hub-reference", "eq", "x' or 'a'='a"), ("model", "eq", "Dell Latitude 7450")]
    assert odata_all("", "") is None
    with pytest.raises(QueryValueError):
        odata_eq("model eq 'x' or name", "y")


def test_pager_follows_206_by_items_received() -> None:
    pager = Pager(page_size=2)
    got = pager.accept(206, [{"id": "a"}, {"id": "b"}])
    assert not pager.finished and pager.params() == {"start": 2, "page_size": 2}
    got += pager.accept(206, [{"id": "c"}])  # a server capping the page at one item
    assert pager.params()["start"] == 3
    got += pager.accept(200, [{"id": "d"}])
    assert pager.finished and [i["id"] for i in got] == ["a", "b", "c", "d"]
    empty = Pager()
    assert empty.accept(204, []) == [] and empty.finished


def test_pager_detects_loops_empty_partials_and_bounds_pages() -> None:
    looping = Pager(page_size=2)
    looping.accept(206, [{"id": "a"}, {"id": "b"}])
    with pytest.raises(PermanentError, match="loop"):
        looping.accept(206, [{"id": "a"}, {"id": "b"}])
    with pytest.raises(PermanentError, match="empty page"):
        Pager().accept(206, [])
    bounded = Pager(page_size=1, max_pages=2)
    bounded.accept(206, [{"id": "a"}])
    with pytest.raises(PermanentError, match="more than 2 pages"):
        bounded.accept(206, [{"id": "b"}])
    with pytest.raises(PermanentError):
        Pager().accept(302, [])


async def test_a_server_ignoring_start_stops_with_an_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(206, json=[{"id": "same", "optionalFields1": {"text1": "r"}}])

    async with TopdeskTicketing(config(), transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(PermanentError, match="loop"):
            await client.find_tickets("r")


def test_due_dates_are_oslo_local_time_written_in_utc() -> None:
    assert td_target_date(date(2026, 12, 1), time(16, 0)) == "2026-12-01T15:00:00.000+0000"  # CET
    assert td_target_date(date(2026, 6, 1), time(16, 0)) == "2026-06-01T14:00:00.000+0000"  # CEST
    parsed = parse_td_datetime("2026-06-01T14:00:00.000+0000")
    assert parsed is not None and parsed.hour == 16 and str(parsed.tzinfo) == "Europe/Oslo"
    assert parse_td_datetime("2026-06-01T14:00:00Z") == parsed
    assert parse_td_datetime(None) is None


def test_status_mapping() -> None:
    def incident(status: str, **flags: bool) -> TdIncident:
        return TdIncident.model_validate({"id": "1", "processingStatus": {"name": status}, **flags})

    assert port_status(incident("Logged"), STATUS_MAP) == "new"
    assert port_status(incident("in progress"), STATUS_MAP) == "open"
    assert port_status(incident("Rejected", closed=True, completed=True), STATUS_MAP) == "rejected"
    assert port_status(incident("Completed", completed=True), STATUS_MAP) == "resolved"
    assert port_status(incident("Waiting for user", onHold=True), STATUS_MAP) == "stalled"
    assert port_status(incident("Something else"), STATUS_MAP) == "open"


def test_incident_paths_accept_uuids_and_numbers_only() -> None:
    assert incident_path("6B704CBF-76F5-4802-B65D-2661FCAE68D5") == "incidents/id/6b704cbf-76f5-4802-b65d-2661fcae68d5"
    assert incident_path("I 2611 001") == "incidents/number/I%202611%20001"
    assert incident_path("I2510-017") == "incidents/number/I2510-017"
    for bad in ("../persons", "1 OR 1", "I 2611 001/actions"):
        with pytest.raises(InvalidInput):
            incident_path(bad)


def test_config_defaults_and_validation() -> None:
    cfg = config()
    assert cfg.base_url == "http://127.0.0.1:9/tas/api" and cfg.web_root == "http://127.0.0.1:9/tas"
    assert cfg.operator_group("Equipment") == "Equipment" and cfg.template_of("Laptops") == "Laptop"
    mapped = config(queue_groups={"User accounts": "Brukerstøtte"})
    assert mapped.operator_group("User accounts") == "Brukerstøtte" and mapped.queue_of("brukerstøtte") == "User accounts"
    assert "x" not in repr(cfg.app_password)
    for bad in ({"external_ref_field": "briefDescription"}, {"asset_model_field": "model eq 'x'"},
                {"incident_line": "partial"}, {"page_size": 101}):
        with pytest.raises(ValidationError):
            config(**bad)
    for name, field in TopdeskConfig.model_fields.items():
        assert field.description, f"{name} has no description"


async def test_the_adapter_implements_the_ticketing_port() -> None:
    import connectors.topdesk as package

    client: TicketingPort = TopdeskTicketing(config())  # mypy checks the structure
    assert package.CONFIG is TopdeskConfig and package.CLIENT is TopdeskTicketing
    for name in ("find_tickets", "ensure_ticket", "get_ticket", "comment", "set_status", "find_assets",
                 "get_asset", "allocate_asset", "reserve_asset", "health", "aclose"):
        assert callable(getattr(client, name))
    await client.aclose()
