"""Create Prefect runs exactly once: by idempotency key, one at a time or a hundred in a
request, and, for work that waits for a person, already suspended with the person's form.

Every creation carries a deterministic idempotency key, so a request sent again after its
answer was lost (a connection reset, a process killed between the create and noting it) gets
back the run the first one created, never a second run. A busy server is waited out on the
hub's terms, not the Prefect client's: a 502, 503 or 504, or a bulk create refused because
the server's database was locked, is asked again from 50 ms up, doubling with jitter, for
about 10 s (:data:`BUSY_TRIES`); a server that does not answer at all is left to the caller
(:func:`prefect_did_not_answer`), which keeps the work for a later try.

Used by the intake's :class:`~hub.dispatch.Dispatcher` (an inbox event's runs), the
fritak intake (each archived case's run, waiting for its decision), the employment steps and
:mod:`hub.replay` (a run started again for its item).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from hub.prefect_api import busy_pause, send_once

__all__ = ["start_deployment_run", "start_deployment_runs", "start_waiting_for_input", "start_waiting_for_inputs",
           "prefect_did_not_answer", "Coalesced", "BULK_LIMIT", "BUSY_TRIES"]

T = TypeVar("T")


async def start_deployment_run(deployment: str, parameters: dict[str, Any], *, key: str,
                               when: datetime | None = None, client: Any = None,
                               ids: dict[str, Any] | None = None, state: Any = None) -> str:
    """Create the run of ``deployment`` for ``key`` (or get the one that exists); return its id.

    What ``run_deployment`` does, plus: the deployment id is cached in ``ids``, and 502, 503
    and 504 are retried from 50 ms up, doubling with jitter, for about 10 s. Prefect's SQLite
    server answers 503 when its database is momentarily busy (a burst) and its client waits
    2 s before retrying, and 2 s even with ``PREFECT_CLIENT_MAX_RETRIES=0``: the request goes
    out with :func:`hub.prefect_api.send_once` and relies on this loop. A retry after a lost
    answer is safe: the idempotency key returns the run the first try created. ``state``: the
    state the run is created in, if not Scheduled (at ``when``, if given).
    """
    from prefect.client.schemas.actions import DeploymentFlowRunCreate
    from prefect.states import Scheduled, to_state_create

    if client is None:
        async with _fresh_client() as fresh:
            return await start_deployment_run(deployment, parameters, key=key, when=when, client=fresh, ids=ids,
                                              state=state)
    ids = ids if ids is not None else {}
    state = state or (Scheduled(scheduled_time=when) if when else Scheduled())

    async def create() -> str:
        body = DeploymentFlowRunCreate(parameters=parameters, idempotency_key=key, tags=["hub"],
                                       state=to_state_create(state)).model_dump(mode="json", exclude_unset=True)
        response = await send_once(client, "POST", "/deployments/{id}/create_flow_run", json=body,
                                   path_params={"id": await _deployment_id(client, deployment, ids)})
        return str(response.json()["id"])

    return await _while_busy(deployment, ids, create)


async def start_waiting_for_input(deployment: str, parameters: dict[str, Any], *, key: str, pause_key: str,
                                  form: Any, client: Any = None, ids: dict[str, Any] | None = None) -> str:
    """:func:`start_waiting_for_inputs` for one run: its id, or the error Prefect refused it with."""
    started, refused = await start_waiting_for_inputs(deployment, {key: (parameters, form)}, pause_key=pause_key,
                                                      client=client, ids=ids, tries=1)
    if key not in started:
        raise RuntimeError(f"Prefect created no run of {deployment} for {key}: {refused.get(key)}")
    return started[key]


async def start_waiting_for_inputs(deployment: str, wanted: Mapping[str, tuple[dict[str, Any], Any]], *,
                                   pause_key: str, client: Any = None, ids: dict[str, Any] | None = None,
                                   tries: int | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """Create the runs of ``deployment``, one per idempotency key in ``wanted`` (key →
    parameters and form, a ``RunInput`` class), or get those that exist, each already
    *suspended* and asking for its form under ``pause_key``: the run as
    ``suspend_flow_run(wait_for_input=form, key=pause_key)`` leaves it, without a process ever
    running it up to there. Prefect's UI shows it Suspended with its form; a resume with the
    input schedules it, and the flow finds the answer under the keyset of ``pause_key``
    (``keyset_from_paused_state``). Returns ``(key → run id, key → why Prefect created none)``
    like :func:`start_deployment_runs`, which creates them (one request per hundred).

    Made for work a batch does up to a person's decision (a fritak case archived by the intake):
    a run of its own up to that point (a process, a flow run and its task runs) cost more than
    the work. Safe to call again after a lost answer or a crash: the idempotency keys hand
    back the same runs, and the forms' parts already stored are kept (Prefect answers 409). A
    form Prefect did not store raises, after the others were tried: a run without its form is
    asked for again by calling this again."""
    from prefect.input import keyset_from_paused_state
    from prefect.states import Suspended

    if client is None:
        async with _fresh_client() as fresh:
            return await start_waiting_for_inputs(deployment, wanted, pause_key=pause_key, client=fresh, ids=ids,
                                                  tries=tries)
    ids = ids if ids is not None else {}
    state: Any = Suspended(pause_key=pause_key)
    keyset = keyset_from_paused_state(state)
    state.state_details.run_input_keyset = dict(keyset)
    started, refused = await start_deployment_runs(deployment, {key: parameters for key, (parameters, _) in wanted.items()},
                                                   client=client, ids=ids, tries=tries, state=state)
    bound = asyncio.Semaphore(_FORMS_AT_ONCE)

    async def form_of(key: str) -> None:
        async with bound:
            await _store_form(client, deployment, ids, started[key], keyset, wanted[key][1])

    failed = [r for r in await asyncio.gather(*(form_of(key) for key in started), return_exceptions=True)
              if isinstance(r, BaseException)]
    if failed:
        raise failed[0]
    return started, refused


async def _store_form(client: Any, deployment: str, ids: dict[str, Any], run_id: str, keyset: Mapping[Any, str],
                      form: Any) -> None:
    """A waiting run's form: its description (Markdown), then its schema, as ``RunInput.asave``
    stores them; a part stored by an earlier try is kept (409)."""
    import json
    from uuid import UUID

    from prefect._internal.pydantic.v2_schema import create_v2_schema  # what RunInput.asave stores
    from prefect.exceptions import PrefectHTTPStatusError

    async def store(name: Literal["description", "schema"], value: object) -> None:
        async def send() -> None:
            await client.create_flow_run_input(UUID(run_id), keyset[name], json.dumps(value, ensure_ascii=False))

        try:
            await _while_busy(deployment, ids, send)
        except PrefectHTTPStatusError as exc:
            if exc.response.status_code != 409:  # 409: stored by an earlier try
                raise

    description = getattr(form, "_description", None)  # RunInput.with_initial_data(description=...)
    if isinstance(description, str) and description:
        await store("description", description)
    # The schema last: Prefect refuses a resume without it, so a run with its schema is complete.
    await store("schema", create_v2_schema(form.__name__, model_base=form))


BULK_LIMIT = 100  # runs per bulk request: the most Prefect's server creates in one


class Coalesced(Generic[T]):
    """Things to send, those asked for while a request is on its way together in the next one
    (at most ``most`` in a request): a burst goes in a few bulk requests, not one each, and
    nothing waits for company (the first is sent at once). ``send`` is given each chunk and
    deals with its own failures; :meth:`drain` waits until everything asked for was sent."""

    def __init__(self, send: Callable[[list[T]], Awaitable[None]], *, name: str, most: int = BULK_LIMIT) -> None:
        self._send, self._name, self._most = send, name, most
        self._pending: list[T] = []
        self._sender: asyncio.Task[None] | None = None

    def add(self, thing: T) -> None:
        self._pending.append(thing)
        if self._sender is None:
            self._sender = asyncio.create_task(self._send_all(), name=self._name)

    async def _send_all(self) -> None:
        try:
            while self._pending:
                chunk, self._pending = self._pending[:self._most], self._pending[self._most:]
                await self._send(chunk)
        finally:
            self._sender = None

    async def drain(self) -> None:
        while self._sender is not None:
            await asyncio.shield(self._sender)


async def start_deployment_runs(deployment: str, wanted: Mapping[str, dict[str, Any]], *, client: Any = None,
                                ids: dict[str, Any] | None = None, tries: int | None = None, state: Any = None
                                ) -> tuple[dict[str, str], dict[str, str]]:
    """Create the runs of ``deployment``, one per idempotency key in ``wanted`` (key → parameters),
    or get those that exist: ``(key → run id, key → why Prefect created none)``.

    One request per :data:`BULK_LIMIT` runs (Prefect's ``create_flow_run/bulk``: one database
    transaction for all of them) instead of one request and one transaction per run. A
    backlog's runs created one at a time queued for the database with the runs already started
    (on SQLite 0.1–30 s per run, a fritak case created every ~2 s). The same idempotency keys
    and the same 5xx back-off as :func:`start_deployment_run`: a request whose answer was lost
    is sent again and returns the runs the first one created, never a second run. Prefect
    answers a bulk request with a verdict per run; runs it refused are asked for again for
    about a minute (:data:`_REFUSED_TRIES`: a busy SQLite database refuses the whole request),
    and what is still refused then is returned with Prefect's reason. ``state``: the state the
    runs are created in, if not Scheduled now.
    """
    from prefect.client.schemas.actions import DeploymentFlowRunCreate
    from prefect.states import Scheduled, to_state_create

    if client is None:
        async with _fresh_client() as fresh:
            return await start_deployment_runs(deployment, wanted, client=fresh, ids=ids, tries=tries, state=state)
    ids = ids if ids is not None else {}
    tries = tries or _REFUSED_TRIES
    initial = to_state_create(state or Scheduled())
    started: dict[str, str] = {}
    refused: dict[str, str] = {}
    given_up: dict[str, str] = {}
    todo = list(wanted)
    for attempt in range(max(tries, BUSY_TRIES)):
        refused = {}
        for first in range(0, len(todo), BULK_LIMIT):
            chunk = todo[first:first + BULK_LIMIT]
            body = [DeploymentFlowRunCreate(parameters=wanted[key], idempotency_key=key, tags=["hub"],
                                            state=initial).model_dump(mode="json", exclude_unset=True)
                    for key in chunk]

            async def create(body: list[dict[str, Any]] = body) -> list[dict[str, Any]]:
                response = await send_once(client, "POST", "/deployments/{id}/create_flow_run/bulk",
                                           path_params={"id": await _deployment_id(client, deployment, ids)},
                                           json=body)
                return list(response.json()["results"])

            results = await _while_busy(deployment, ids, create)
            if len(results) != len(chunk):
                raise RuntimeError(f"Prefect answered {len(results)} results for {len(chunk)} runs of {deployment}")
            for key, result in zip(chunk, results, strict=True):
                if result.get("status") == "CREATED" and result.get("flow_run_id"):
                    started[key] = str(result["flow_run_id"])
                else:
                    refused[key] = str(result.get("error") or result)
        # A refusal is the server's answer per run: on SQLite most often "database is locked" for
        # the whole request (its transaction could not write), which passes, and is asked again
        # for as long as a busy server is (~10 s) however few ``tries`` the caller gave; a run's
        # parameters that do not fit its flow do not pass, and are reported after ``tries``.
        todo = [key for key, why in refused.items()
                if attempt < tries - 1 or (_server_was_busy(why) and attempt < BUSY_TRIES - 1)]
        given_up.update({key: why for key, why in refused.items() if key not in todo})
        if not todo:
            break
        await asyncio.sleep(_backoff(attempt))
    return started, given_up


def _server_was_busy(why: str) -> bool:
    """A run refused because the server's database could not write (SQLite's lock), not
    because of the run."""
    return "database is locked" in why or "OperationalError" in why


@contextlib.asynccontextmanager
async def _fresh_client() -> AsyncIterator[Any]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        yield client


async def _deployment_id(client: Any, deployment: str, ids: dict[str, Any]) -> Any:
    if deployment not in ids:
        ids[deployment] = (await client.read_deployment_by_name(deployment)).id
    return ids[deployment]


async def _while_busy(deployment: str, ids: dict[str, Any], call: Callable[[], Awaitable[T]]) -> T:
    """``call()``, again after a 502, 503 or 504 or an answer lost on the way (a connection
    reset; the idempotency keys make a retry safe): from 50 ms up, doubling with jitter, ~10 s
    in all. A server that is not there (no connection) or does not answer in time is not asked
    again here: the caller keeps the work for a later try at once (the intake's sweeper, the
    next fritak intake; :func:`prefect_did_not_answer`); held here longer than the sweeper's
    patience, an inbox event would be started by a sweep meanwhile."""
    import httpx
    from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError

    for attempt in range(BUSY_TRIES):
        try:
            return await call()
        except ObjectNotFound:
            ids.pop(deployment, None)  # re-created under a new id? look it up again next time
            raise
        except PrefectHTTPStatusError as exc:
            if exc.response.status_code not in (502, 503, 504) or attempt == BUSY_TRIES - 1:
                raise
        except (httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
            if attempt == BUSY_TRIES - 1:
                raise
        await asyncio.sleep(_backoff(attempt))
    raise AssertionError("unreachable")  # pragma: no cover


def _backoff(attempt: int) -> float:
    """Seconds before try ``attempt + 1``: from 50 ms, doubling to 2 s, with jitter."""
    return busy_pause(attempt, longest=2.0)


BUSY_TRIES = 10  # 0.05 + 0.1 + ... + 2 s: about 10 s of a busy server before giving up
_FORMS_AT_ONCE = 8  # waiting runs' forms stored at once
_REFUSED_TRIES = 30  # refused runs asked again for about a minute (2 s apart after the first few)


def prefect_did_not_answer(exc: BaseException) -> bool:
    """``exc`` says the Prefect server was not reached, did not answer in time, or stayed busy
    (502, 503, 504) through the back-off: the same request may be sent again later, and its
    idempotency keys hand back any run a lost answer had created."""
    import httpx
    from prefect.exceptions import PrefectHTTPStatusError

    if isinstance(exc, PrefectHTTPStatusError):
        return exc.response.status_code in (502, 503, 504)
    return isinstance(exc, httpx.TransportError)
