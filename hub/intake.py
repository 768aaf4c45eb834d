"""The intake receiver: HR events in, durably, then on to Prefect.

``POST /events/hr`` with a JSON body ``{"id", "uri", "gyldigEtter"}`` signed with
HMAC-SHA256 in ``X-Hub-Signature-256``. Answers:

- 401 — missing or wrong signature; nothing is stored;
- 400 — not JSON, or not a valid event; the body says which field is wrong and why;
- 413 — body too large;
- 202 — stored in the inbox (a new event), then handed to Prefect in the background;
- 200 — the same event was already received; nothing new happens.

A sweeper in the same process re-dispatches inbox events that did not reach Prefect.
Prefect webhooks exist only in Prefect Cloud; this receiver is the self-hosted equivalent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from hub.dispatch import Dispatcher
from hub.ledger import Ledger
from hub.privacy import contains_fnr
from hub.settings import IntakeConfig
from hub.signing import HEADER, verify

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
        return value

    @property
    def dedupe_key(self) -> str:
        return f"{self.uri}:{self.id}:{self.gyldigEtter.isoformat() if self.gyldigEtter else ''}"


def _problem(status: int, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in err["loc"]) or "(body)", "problem": err["msg"]}
            for err in exc.errors(include_input=False)]


def create_app(ledger: Ledger, dispatcher: Dispatcher, config: IntakeConfig) -> Starlette:
    secret = config.hmac_secret.get_secret_value()
    background: set[asyncio.Task[None]] = set()

    async def receive_hr_event(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > config.max_body_bytes:
            return _problem(413, f"body larger than {config.max_body_bytes} bytes")
        if not verify(body, secret, request.headers.get(HEADER)):
            log.warning("refused an HR event with a missing or wrong %s signature", HEADER)
            return _problem(401, f"missing or invalid {HEADER} signature",
                            hint="Sign the exact body with HMAC-SHA256 and the shared secret.")
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
        stored, created = await asyncio.to_thread(
            ledger.record_event, source="dfo", kind=event.uri, subject_id=event.id,
            dedupe_key=event.dedupe_key, payload=event.model_dump(mode="json"),
            valid_after=event.gyldigEtter)
        if not created:
            return JSONResponse({"event_id": stored.id, "duplicate": True, "state": stored.state,
                                 "flow_run_id": stored.flow_run_id}, status_code=200)
        log.info("received %s for %s (event %s)", event.uri, event.id, stored.id)
        # The event is durable now; answer, then hand it to Prefect.
        return JSONResponse({"event_id": stored.id, "duplicate": False, "state": stored.state},
                            status_code=202, background=BackgroundTask(dispatcher.dispatch, stored))

    async def event_status(request: Request) -> JSONResponse:
        found = await asyncio.to_thread(ledger.get_event, request.path_params["event_id"])
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

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        with contextlib.suppress(Exception):  # warm the Prefect client; Prefect may not be up yet
            await dispatcher.warm_up()
        task = asyncio.create_task(sweeper())
        background.add(task)
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await dispatcher.aclose()

    return Starlette(routes=[
        Route("/events/hr", receive_hr_event, methods=["POST"]),
        Route("/events/{event_id}", event_status, methods=["GET"]),
        Route("/health", health, methods=["GET"]),
    ], lifespan=lifespan)


def main() -> None:
    """``python -m hub.intake``: serve the receiver with the hub's settings."""
    import uvicorn

    from hub.settings import get_settings

    settings = get_settings()
    ledger = Ledger(settings.ledger, migrate=True)
    dispatcher = Dispatcher(ledger, tz=settings.tz, start_hour=settings.onboarding.start_hour,
                            deployment_overrides={"onboarding/onboarding": settings.onboarding.deployment})
    app = create_app(ledger, dispatcher, settings.intake)
    uvicorn.run(app, host=settings.intake.host, port=settings.intake.port, log_config=None,
                access_log=False)


if __name__ == "__main__":
    main()
