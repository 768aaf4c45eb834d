"""The intake receiver: HR events in, durably, then on to Prefect.

``POST /events/hr`` with ``Content-Type: application/json`` and a JSON body
``{"id", "uri", "gyldigEtter"}``, signed per Standard Webhooks (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``; see :mod:`hub.signing`). Answers:

- 415 — not ``application/json``; nothing is read;
- 413 — body larger than ``max_body_bytes``: refused by its ``Content-Length``, or as soon as
  that many bytes have been read (a chunked body is never buffered whole);
- 401 — missing, stale (more than 5 minutes old or ahead) or wrong signature; nothing is
  stored. Any of the active secrets may have signed it (rotation);
- 400 — not JSON, or not a valid event; the body says which field is wrong and why;
- 409 — a ``webhook-id`` already received with a different body (a replay); nothing is stored;
- 202 — stored in the inbox (a new event), then handed to Prefect in the background;
- 202 with ``"repeats": <event id>`` — a new message (a new ``webhook-id``) for an event
  already received (the same ``uri``, ``id`` and ``gyldigEtter``). HR's events carry no change
  id: a change reversed with the same gyldigEtter (moved to a unit and back, both from
  2027-01-01) looks exactly like a re-announcement of the first. So the message is stored as
  an event of its own (dedupe key: the first's plus ``#<webhook-id>``) and handed only to the
  services that act on every message (``every_message`` in the catalog: the
  employment-changes router, which re-reads HR and writes nothing if nothing changed); a
  service that acts once per event (onboarding) is not started again;
- 200 — the same message (``webhook-id``) was already received; nothing new happens;
- 405 (with ``Allow``) — a known path with the wrong method.

A sweeper in the same process re-dispatches inbox events that did not reach Prefect.
Prefect webhooks exist only in Prefect Cloud; this receiver is the self-hosted equivalent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.dispatch import REPEATS, Dispatcher
from hub.ledger import InboxEvent, Ledger
from hub.ports.hr import canonical_employee_id
from hub.privacy import contains_fnr
from hub.settings import OSLO, IntakeConfig
from hub.signing import ReplayGuard, SignatureError, body_digest, verify

__all__ = ["HrEvent", "create_app"]

log = logging.getLogger("hub.intake")


class HrEvent(BaseModel):
    """A change notice from HR (DFØ). It says *what* changed; the flow re-reads it."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z_-]+$",
                    description="Employee (or position) id in DFØ.")
    uri: Literal["dfo:ansatte", "dfo:stillinger"]
    gyldigEtter: date | None = Field(None, description="The change is valid from this day.")

    @field_validator("id")
    @classmethod
    def not_a_national_id(cls, value: str) -> str:
        if contains_fnr(value):
            raise ValueError("looks like a fødselsnummer; HR must send the DFØ employee id")
        return canonical_employee_id(value)  # "05001234" and "5001234" are one person, one event

    @property
    def dedupe_key(self) -> str:
        return f"{self.uri}:{self.id}:{self.gyldigEtter.isoformat() if self.gyldigEtter else ''}"


def _problem(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in err["loc"]) or "(body)", "problem": err["msg"]}
            for err in exc.errors(include_input=False)]


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, read chunk by chunk; stop as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.strip().isdigit() and int(declared) > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _is_json(content_type: str | None) -> bool:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    return media_type == "application/json"


def create_app(ledger: Ledger, dispatcher: Dispatcher, config: IntakeConfig) -> Starlette:
    secrets = config.active_secrets()
    if not secrets:
        raise ValueError("the intake has no signing secret: set HUB_INTAKE__HMAC_SECRET(S)")
    replays = ReplayGuard()
    background: set[asyncio.Task[object]] = set()

    def hand_over(event: InboxEvent) -> None:
        """Dispatch in a task of its own: the sender's connection is free at once, and a slow
        Prefect holds no request. Cancelled at shutdown, the event waits for the sweeper."""
        task: asyncio.Task[object] = asyncio.create_task(dispatcher.dispatch(event))
        background.add(task)
        task.add_done_callback(finished)

    def finished(task: asyncio.Task[object]) -> None:
        background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dispatch failed; the sweeper will try again", exc_info=task.exception())

    async def receive_hr_event(request: Request) -> JSONResponse:
        if not _is_json(request.headers.get("content-type")):
            return _problem(415, "Content-Type must be application/json",
                            given=request.headers.get("content-type", "(none)")[:100])
        try:
            body = await _read_body(request, config.max_body_bytes)
        except _TooLarge:
            return _problem(413, f"body larger than {config.max_body_bytes} bytes")
        except ClientDisconnect:  # the sender gave up mid-body: nothing to store, nobody to answer
            return _problem(400, "the client disconnected before the body was complete")
        try:
            msg_id = verify(body, request.headers, secrets)
        except SignatureError as exc:
            log.warning("refused an HR event: %s", exc)
            return _problem(401, f"signature refused: {exc}",
                            hint="Sign per Standard Webhooks (webhook-id, webhook-timestamp, "
                                 "webhook-signature) with an active secret, within 5 minutes.")
        try:
            raw = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _problem(400, f"body is not valid JSON: {exc.msg if hasattr(exc, 'msg') else exc}")
        if not isinstance(raw, dict):
            return _problem(400, "body must be a JSON object like "
                                 '{"id": "10001", "uri": "dfo:ansatte", "gyldigEtter": "2026-12-01"}')
        try:
            event = HrEvent.model_validate(raw)
        except ValidationError as exc:
            return _problem(400, "not a valid HR event", details=_field_errors(exc))
        digest = body_digest(body)
        if replays.check(msg_id, digest) == "conflict":
            log.warning("refused an HR event: webhook-id %s was already used for another body", msg_id)
            return _problem(409, "this webhook-id was already received with a different body; "
                                 "a new message needs a new webhook-id")
        try:
            stored, created = await asyncio.to_thread(
                ledger.record_event, source="dfo", kind=event.uri, subject_id=event.id,
                dedupe_key=event.dedupe_key,
                payload={**event.model_dump(mode="json"), "webhook_id": msg_id, "body_sha256": digest},
                valid_after=event.gyldigEtter)
        except BaseException:
            replays.forget(msg_id)  # not stored: a re-send of this message must still pass
            raise
        repeats = None
        if not created and (stored.payload or {}).get("webhook_id") != msg_id:
            repeats = stored.id  # a new message for a known event: its own event (see the docstring)
            try:
                stored, created = await asyncio.to_thread(
                    ledger.record_event, source="dfo", kind=event.uri, subject_id=event.id,
                    dedupe_key=f"{event.dedupe_key}#{msg_id}",
                    payload={**event.model_dump(mode="json"), "webhook_id": msg_id, "body_sha256": digest,
                             REPEATS: repeats},
                    valid_after=event.gyldigEtter)
            except BaseException:
                replays.forget(msg_id)
                raise
        if not created:
            return JSONResponse({"event_id": stored.id, "duplicate": True, "state": stored.state,
                                 "flow_run_id": stored.flow_run_id}, status_code=200)
        if repeats:
            log.info("received %s for %s again in a new message (event %s repeats %s)", event.uri, event.id,
                     stored.id, repeats)
            hand_over(stored)
            return JSONResponse({"event_id": stored.id, "duplicate": False, "repeats": repeats,
                                 "state": stored.state}, status_code=202)
        log.info("received %s for %s (event %s)", event.uri, event.id, stored.id)
        # The event is durable now; answer, and hand it to Prefect.
        hand_over(stored)
        return JSONResponse({"event_id": stored.id, "duplicate": False, "state": stored.state},
                            status_code=202)

    async def event_status(request: Request) -> JSONResponse:
        found = await asyncio.to_thread(ledger.get_event, str(request.path_params["event_id"]))
        if found is None:
            return _problem(404, "no such event")
        return JSONResponse({"event_id": found.id, "kind": found.kind, "subject_id": found.subject_id,
                             "state": found.state, "flow_run_id": found.flow_run_id,
                             "received_at": found.received_at.isoformat(),
                             "scheduled_for": found.scheduled_for.isoformat() if found.scheduled_for else None,
                             "last_error": found.last_error})

    async def health(_: Request) -> JSONResponse:
        waiting = len(await asyncio.to_thread(ledger.undispatched, older_than=timedelta(0)))
        return JSONResponse({"status": "ok", "undispatched": waiting})

    async def sweeper() -> None:
        while True:
            try:
                await dispatcher.sweep(timedelta(seconds=config.sweep_after))
            except Exception:  # the sweeper must survive anything and try again
                log.exception("sweep failed; trying again in %.0fs", config.sweep_interval)
            await asyncio.sleep(config.sweep_interval)

    def remember_recent_ids() -> None:
        """After a restart, the ids received within the replay window still bind their bodies."""
        now = datetime.now(OSLO)
        recent = []
        for event in ledger.events(limit=10_000):  # newest first
            age = now - event.received_at
            if age.total_seconds() >= replays.keep:
                break
            recent.append((event.payload.get("webhook_id"), event.payload.get("body_sha256"), age))
        for webhook_id, digest, age in reversed(recent):  # oldest first, as the guard keeps them
            if webhook_id and digest:
                replays.remember(str(webhook_id), str(digest), age)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await asyncio.to_thread(remember_recent_ids)
        with contextlib.suppress(Exception):  # warm the Prefect client; Prefect may not be up yet
            await dispatcher.warm_up()
        background.add(asyncio.create_task(sweeper()))
        try:
            yield
        finally:
            tasks = list(background)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await dispatcher.aclose()

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        """404 and 405 as JSON; a 405 keeps Starlette's ``Allow`` header."""
        assert isinstance(exc, HTTPException)
        message = {404: "no such path", 405: f"method {request.method} not allowed here"}.get(
            exc.status_code, str(exc.detail))
        response = _problem(exc.status_code, message, **({"allow": exc.headers["Allow"]}
                                                       if exc.headers and "Allow" in exc.headers else {}))
        response.headers.update(exc.headers or {})
        return response

    return Starlette(routes=[
        Route("/events/hr", receive_hr_event, methods=["POST"]),
        # Event ids are UUIDs: /events/hr is never read as an event id (GET there is a 405).
        Route("/events/{event_id:uuid}", event_status, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ], lifespan=lifespan, exception_handlers={404: http_error, 405: http_error})


def main() -> None:
    """``python -m hub.intake``: serve the receiver with the hub's settings."""
    import uvicorn

    from hub.privacy import install
    from hub.settings import get_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    install()  # no fødselsnummer in the intake's log, whatever a sender puts in a body
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per Prefect request
    settings = get_settings()
    ledger = Ledger(settings.ledger, migrate=True)
    dispatcher = Dispatcher(ledger, tz=settings.tz, start_hour=settings.onboarding.start_hour,
                            deployment_overrides={"onboarding/onboarding": settings.onboarding.deployment},
                            concurrency=settings.intake.prefect_concurrency)
    app = create_app(ledger, dispatcher, settings.intake)
    uvicorn.run(app, host=settings.intake.host, port=settings.intake.port, log_config=None,
                access_log=False)


if __name__ == "__main__":
    main()
