"""The catalog: each service declared once, and the core's machinery reading only that.

A toy service (one flow module, ``tests/unit/toy_service.py``, plus one declaration here)
is routed by the dispatcher, replayed, served and limited without a line of the core
changing; the real catalog's declarations are consistent and every deployment loads.
"""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

from deployments.catalog import CATALOG
from deployments.definitions import PRELOAD
from hub.dispatch import Dispatcher
from hub.ledger import ItemState, Ledger
from hub.replay import replay_items
from hub.services import Catalog, DeploymentSpec, Limit, OnEvent, Rerun, Service, catalog, use_catalog
from hub.settings import OSLO
from tests.unit.toy_service import toy_hello

TOY = Service(name="toy", title="Toy: says hello", ports=frozenset({"mail"}),
              deployments=(DeploymentSpec(flow=toy_hello, name="toy-hello", description="Say hello."),),
              events=(OnEvent("toy:hello", "toy-hello/toy-hello", lambda ev: {"key": ev.subject_id}),),
              rerun=Rerun("toy-hello/toy-hello", key_parameter="key"),
              limits=(Limit("toy-peer", 1, "the toy peer takes one caller at a time"),))


class RecordingPrefect:
    """The Prefect API calls of a dispatch: find the deployment, create the run (one, or many in
    one bulk request; recorded)."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.asked_for: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/csrf-token"):
            return httpx.Response(422, json={"detail": "CSRF protection is disabled."})
        if "/deployments/name/" in request.url.path:
            self.asked_for.append(request.url.path.split("/deployments/name/")[1])
            return httpx.Response(200, json={"id": str(uuid.uuid4()), "name": "x", "flow_id": str(uuid.uuid4())})
        body = json.loads(request.content)
        if request.url.path.endswith("/create_flow_run/bulk"):  # runs to start now go together
            self.created += body
            return httpx.Response(200, json={"results": [{"status": "CREATED", "flow_run_id": str(uuid.uuid4())}
                                                         for _ in body]})
        self.created.append(body)
        return httpx.Response(201, json={"id": str(uuid.uuid4()), "name": "run", "flow_id": str(uuid.uuid4()),
                                         "idempotency_key": body["idempotency_key"]})


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    return Ledger(f"sqlite:///{tmp_path / 'ledger.db'}")


async def test_a_new_service_is_one_flow_module_and_one_declaration(ledger: Ledger,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with use_catalog(Catalog(services=(*CATALOG.services, TOY), ops=CATALOG.ops,
                             ignored_events=CATALOG.ignored_events)):
        # The runner serves it and upserts its limit; its runs get only the ports it uses.
        assert "toy-hello/toy-hello" in {d.full_name for d in catalog().deployments()}
        assert catalog().limits()["toy-peer"] == 1 and catalog().ports_for("toy") == {"mail"}

        # The intake's dispatcher routes its event kind to its deployment, ids only.
        prefect = RecordingPrefect()
        from prefect.client.orchestration import PrefectClient

        dispatcher = Dispatcher(ledger, tz=OSLO, client_factory=lambda: PrefectClient(
            "http://prefect.invalid/api", httpx_settings={"transport": httpx.MockTransport(prefect)}))
        event, _ = ledger.record_event(source="toy", kind="toy:hello", subject_id="42", dedupe_key="toy:42",
                                       payload={}, valid_after=date.today())
        assert await dispatcher.dispatch(event)
        assert prefect.asked_for == ["toy-hello/toy-hello"]
        assert prefect.created[0]["parameters"] == {"key": "42"}

        # A dead letter of the toy service is replayed through its declaration.
        started: list[tuple[str, dict[str, Any]]] = []

        async def fake_start(deployment: str, parameters: dict[str, Any], *, key: str, **_: Any) -> str:
            started.append((deployment, parameters))
            return str(uuid.uuid4())

        monkeypatch.setattr("hub.replay.start_deployment_run", fake_start)
        item = ledger.ensure_item("toy", "42")
        ledger.finish_item(item.id, ItemState.FAILED, error="the toy peer said no", error_kind="transient")
        assert [r.outcome for r in await replay_items(ledger, [item.id])] == ["replayed"]
        assert started == [("toy-hello/toy-hello", {"key": "42"})]
    assert "toy" not in {s.name for s in catalog().services}  # gone with the block


def test_the_catalog_is_consistent() -> None:
    services = {s.name: s for s in CATALOG.services}
    assert set(services) == {"onboarding", "employment", "leaver", "mover", "laptop", "fritak", "rooms"}
    # onboarding first: it keeps the plain idempotency key (hub.dispatch.route_key)
    assert [r.deployment for r in CATALOG.event_routes()["dfo:ansatte"]] == [
        "onboarding/onboarding", "employment-changes/employment-changes"]
    assert [r.deployment for r in CATALOG.event_routes()["dfo:stillinger"]] == [  # type: ignore[union-attr]
        "employment-changes/employment-changes"]
    assert set(CATALOG.reruns()) == {"onboarding", "employment", "leaver", "mover", "laptop", "fritak", "rooms", "rooms-cancel"}
    assert CATALOG.service("rooms-cancel") is services["rooms"]
    # Every deployed flow and every adapter is preloaded by the fork server.
    assert {spec.flow.fn.__module__ for spec in CATALOG.deployments()} < set(PRELOAD)
    assert "connectors.topdesk.client" in PRELOAD


def test_every_deployment_loads() -> None:
    """Each declaration becomes a Prefect deployment (schedules, triggers, limits) offline."""
    for spec in CATALOG.deployments():
        deployment = spec.flow.to_deployment(
            name=spec.name, description=spec.description, schedules=list(spec.schedules) or None,
            concurrency_limit=spec.concurrency, tags=list(spec.tags), parameters=spec.parameters or None,
            triggers=list(spec.triggers) or None)
        assert deployment.name == spec.name and deployment.entrypoint, spec.full_name
        assert deployment.description


async def test_two_queued_deployments_of_one_name_are_refused_a_shared_work_queue() -> None:
    """In a work pool each queued deployment waits in a queue named after it; two flows'
    deployments of one name would share one queue and one bound, so deploying stops first."""
    import dataclasses

    from deployments.pool import ensure_queues, work_queue

    onboarding = next(spec for spec in CATALOG.deployments() if spec.full_name == "onboarding/onboarding")
    assert work_queue(onboarding) == "onboarding"
    twin = dataclasses.replace(onboarding, flow=toy_hello)  # another flow, the same deployment name
    with pytest.raises(ValueError, match="two queued deployments are named 'onboarding'"):
        await ensure_queues("hub", [onboarding, twin])


@pytest.mark.parametrize(("change", "message"), [
    ({"ports": frozenset({"mail", "fax"})}, "unknown ports"),
    ({"rerun": Rerun("toy-bye/toy-bye", key_parameter="key")}, "which it does not deploy"),
    ({"events": (OnEvent("toy:hello", "toy-bye/toy-bye", lambda ev: {}),)}, "which it does not deploy"),
])
def test_a_declaration_that_does_not_add_up_is_refused(change: dict[str, Any], message: str) -> None:
    fields = {f: getattr(TOY, f) for f in ("name", "title", "ports", "deployments", "rerun", "events", "limits")}
    with pytest.raises(ValueError, match=message):
        Service(**{**fields, **change})


def test_two_services_cannot_claim_the_same_items_or_events() -> None:
    with pytest.raises(ValueError, match="claimed by both"):
        Catalog(services=(TOY, TOY))
    other = Service(name="toy2", title="t", ports=frozenset(), deployments=TOY.deployments, events=TOY.events)
    with pytest.raises(ValueError, match="routed twice"):
        Catalog(services=(TOY, other))
    with pytest.raises(ValueError, match="declared with 1 and 3 slots"):
        Catalog(services=(TOY, Service(name="toy3", title="t", ports=frozenset(), deployments=(),
                                       limits=(Limit("toy-peer", 3),)))).limits()


def test_settings_set_the_slots_of_a_declared_limit_and_refuse_an_unknown_one(monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    from deployments.catalog import CATALOG
    from hub.errors import ConfigError
    from hub.settings import Settings

    monkeypatch.setenv("HUB_LIMITS", '{"ticketing": 4}')
    assert CATALOG.limits(Settings().limits)["ticketing"] == 4
    assert CATALOG.limits()["ticketing"] == 2  # the catalog's own
    with pytest.raises(ConfigError, match="'tiketing', which no service declares"):
        CATALOG.limits({"tiketing": 4})
    monkeypatch.setenv("HUB_LIMITS", '{"ticketing": 0}')
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        Settings()
