"""The Nettskjema sandbox's ASGI app (routes are described in :mod:`sandbox.nettskjema`)."""

from __future__ import annotations

import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp

from sandbox.common import FaultInjector
from sandbox.nettskjema.answers import SubmissionError
from sandbox.nettskjema.compression import GzipApi
from sandbox.nettskjema.forms import FORMS, Form, elements_json, form_by_ref
from sandbox.nettskjema.oauth import Clients, TokenIssuer, principal
from sandbox.nettskjema.pdfs import submission_pdf
from sandbox.nettskjema.store import NettskjemaStore

__all__ = ["API_PREFIX", "TOKEN_PATH", "NDJSON", "create_app"]

log = logging.getLogger("sandbox.nettskjema")

API_PREFIX = "/api/v3"
TOKEN_PATH = "/oauth2/token"
NDJSON = "application/x-ndjson"
MAX_BULK = 200_000

Handler = Callable[[Request, str], Awaitable[Response]]


def _error(status: int, message: str, request: Request) -> JSONResponse:
    """``{"message": "..."}`` in Norwegian, the body the real API answers an error with."""
    return JSONResponse({"message": message}, status_code=status)


def _metadata(row: dict[str, Any]) -> dict[str, Any]:
    return {"formId": row["formId"], "submissionId": row["submissionId"], "answerTime": row["answerTime"],
            "createdDate": row["createdDate"], "modifiedDate": row["modifiedDate"], "anonymous": False,
            "deliveryDestination": "DATABASE",
            "person": {"name": row["personName"], "email": row["personEmail"]}}


def _form_json(form: Form, store: NettskjemaStore) -> dict[str, Any]:
    count, last = store.form_stats(form.form_id)
    return {"formId": form.form_id, "title": form.title, "openFrom": form.open_from, "openTo": form.open_to,
            "lastSubmissionDate": last, "modifiedDate": form.modified, "personalDataErasedDate": None,
            "deliveryDestination": "DATABASE", "anonymous": False, "numberOfDeliveredSubmissions": count,
            "owners": 1, "isDictaphone": False, "myFormsFormListingGroup": "ACTIVE", "open": True}


def _api_routes(store: NettskjemaStore, issuer: TokenIssuer) -> list[Route]:
    def authenticated(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            issuer.stats["api_requests"] += 1
            client_id = issuer.client_of(request)
            if client_id is None:
                issuer.stats["api_unauthorized"] += 1
                return issuer.unauthorized("Bearer token is missing, unknown or expired")
            return await handler(request, client_id)
        return endpoint

    def visible(request: Request, client_id: str, form_id: int) -> Form | Response:
        form = FORMS.get(form_id)
        if form is None:
            return _error(404, f"Fant ikke skjema {form_id}", request)
        if not store.granted(form_id, principal(client_id)):
            issuer.stats["api_forbidden"] += 1
            return _error(403, f"{principal(client_id)} har ikke tilgang til skjema {form_id}", request)
        return form

    async def me(request: Request, client_id: str) -> Response:
        forms = [FORMS[i] for i in store.forms_of(principal(client_id)) if i in FORMS]
        return JSONResponse([await run_in_threadpool(_form_json, f, store) for f in forms])

    async def elements(request: Request, client_id: str) -> Response:
        form = visible(request, client_id, request.path_params["form_id"])
        return form if isinstance(form, Response) else JSONResponse(elements_json(form))

    def ndjson(form_id: int, line: Callable[[dict[str, Any]], Iterator[dict[str, Any]]],
               with_answers: bool) -> Iterator[bytes]:
        # A generator: Starlette pulls one keyset page at a time (in a worker thread), so
        # memory stays flat for any number of submissions.
        for batch in store.submission_batches(form_id, size=200, with_answers=with_answers):
            yield b"".join(json.dumps(item, ensure_ascii=False).encode("utf-8") + b"\n"
                           for row in batch for item in line(row))

    async def submission_metadata(request: Request, client_id: str) -> Response:
        form = visible(request, client_id, request.path_params["form_id"])
        if isinstance(form, Response):
            return form
        return StreamingResponse(ndjson(form.form_id, lambda row: iter([_metadata(row)]), False),
                                 media_type=NDJSON)

    async def answers(request: Request, client_id: str) -> Response:
        form = visible(request, client_id, request.path_params["form_id"])
        if isinstance(form, Response):
            return form
        return StreamingResponse(ndjson(form.form_id, lambda row: iter(row["answers"]), True),
                                 media_type=NDJSON)

    async def load(request: Request, client_id: str) -> tuple[Form, dict[str, Any]] | Response:
        submission_id = request.path_params["submission_id"]
        row = await run_in_threadpool(store.submission, submission_id)
        if row is None:
            return _error(404, f"Fant ikke innsending {submission_id}", request)
        form = visible(request, client_id, row["formId"])
        return form if isinstance(form, Response) else (form, row)

    async def submission(request: Request, client_id: str) -> Response:
        found = await load(request, client_id)
        if isinstance(found, Response):
            return found
        return JSONResponse({"submissionMetadata": _metadata(found[1]), "answers": found[1]["answers"]})

    async def pdf(request: Request, client_id: str) -> Response:
        found = await load(request, client_id)
        if isinstance(found, Response):
            return found
        form, row = found
        body = await run_in_threadpool(submission_pdf, form, row["submissionId"], row["createdDate"],
                                       row["answers"])
        return Response(body, media_type="application/pdf", headers={
            "Content-Disposition": f'inline; filename="{row["submissionId"]}.pdf"'})

    async def attachment(request: Request, client_id: str) -> Response:
        attachment_id = request.path_params["attachment_id"]
        found = await run_in_threadpool(store.attachment, attachment_id)
        if found is None:
            return _error(404, f"Fant ikke vedlegg {attachment_id}", request)
        submission_id, filename, served_type, data = found
        row = await run_in_threadpool(store.submission, submission_id)
        form = visible(request, client_id, row["formId"] if row else -1)
        if isinstance(form, Response):
            return form
        quoted = urllib.parse.quote(filename)
        return Response(data, media_type=served_type or None, headers={  # "": no Content-Type at all
            "Content-Disposition": f"attachment; filename*=UTF-8''{quoted}"})

    api = API_PREFIX
    return [
        Route(f"{api}/form/me", authenticated(me), methods=["GET"]),
        Route(f"{api}/form/{{form_id:int}}/elements", authenticated(elements), methods=["GET"]),
        Route(f"{api}/form/{{form_id:int}}/submission-metadata", authenticated(submission_metadata),
              methods=["GET"]),
        Route(f"{api}/form/{{form_id:int}}/answers", authenticated(answers), methods=["GET"]),
        Route(f"{api}/form/submission/attachment/{{attachment_id:int}}", authenticated(attachment),
              methods=["GET"]),
        Route(f"{api}/form/submission/{{submission_id:int}}", authenticated(submission), methods=["GET"]),
        Route(f"{api}/form/submission/{{submission_id:int}}/pdf", authenticated(pdf), methods=["GET"]),
    ]


def _control_routes(store: NettskjemaStore, issuer: TokenIssuer) -> list[Route]:
    async def body_of(request: Request) -> Any:
        try:
            return await request.json()
        except ValueError:
            return None

    def form_of(request: Request) -> Form | Response:
        form = form_by_ref(request.path_params["form"])
        return form or JSONResponse({"error": f"no form {request.path_params['form']!r}"}, status_code=404)

    async def add_submission(request: Request) -> Response:
        form = form_of(request)
        if isinstance(form, Response):
            return form
        body = await body_of(request)
        try:
            submission_id = await run_in_threadpool(store.add_submission, form, body)
        except SubmissionError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        except (ValueError, TypeError, KeyError):
            return JSONResponse({"error": "createdDate must be ISO 8601, e.g. 2026-11-20T09:15:02, "
                                          "and answerTime a number of milliseconds"}, status_code=400)
        log.info("submission %s added to form %s", submission_id, form.form_id)
        return JSONResponse({"submissionId": submission_id, "formId": form.form_id}, status_code=201)

    async def bulk(request: Request) -> Response:
        form = form_of(request)
        if isinstance(form, Response):
            return form
        body = await body_of(request)
        count = body.get("count") if isinstance(body, dict) else None
        if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_BULK:
            return JSONResponse({"error": f'expected {{"count": 1..{MAX_BULK}}}'}, status_code=400)
        first, last = await run_in_threadpool(store.add_bulk, form, count)
        return JSONResponse({"created": count, "firstSubmissionId": first, "lastSubmissionId": last},
                            status_code=201)

    async def forms(request: Request) -> Response:
        return JSONResponse([{
            "formId": f.form_id, "title": f.title, "aliases": list(f.aliases),
            "elements": [{"externalElementId": e.external_id, "elementId": e.element_id,
                          "elementType": e.element_type,
                          "options": [o.external_id for o in e.options],
                          "rows": [r.external_id for r in e.rows]} for e in f.questions],
        } for f in FORMS.values()])

    async def grant(request: Request) -> Response:
        form = form_of(request)
        body = await body_of(request)
        client_id = body.get("clientId") if isinstance(body, dict) else None
        if isinstance(form, Response):
            return form
        if not isinstance(client_id, str) or not client_id:
            return JSONResponse({"error": 'expected {"clientId": "..."}'}, status_code=400)
        await run_in_threadpool(store.grant, form.form_id, principal(client_id))
        return JSONResponse({"formId": form.form_id, "granted": principal(client_id)}, status_code=201)

    async def add_client(request: Request) -> Response:
        body = await body_of(request)
        if not isinstance(body, dict) or not body.get("clientId") or not body.get("clientSecret"):
            return JSONResponse({"error": 'expected {"clientId", "clientSecret"}'}, status_code=400)
        issuer.clients.secrets[str(body["clientId"])] = str(body["clientSecret"])
        return JSONResponse({"clientId": body["clientId"]}, status_code=201)

    async def revoke(request: Request) -> Response:
        return JSONResponse({"revoked": issuer.revoke_all()})

    async def stats(request: Request) -> Response:
        return JSONResponse(dict(issuer.stats))

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "forms": len(FORMS)})

    return [
        Route(TOKEN_PATH, issuer.token_endpoint, methods=["POST"]),
        Route("/_sandbox/forms", forms, methods=["GET"]),
        Route("/_sandbox/forms/{form}/submissions", add_submission, methods=["POST"]),
        Route("/_sandbox/forms/{form}/bulk", bulk, methods=["POST"]),
        Route("/_sandbox/forms/{form}/grants", grant, methods=["POST"]),
        Route("/_sandbox/clients", add_client, methods=["POST"]),
        Route("/_sandbox/revoke-tokens", revoke, methods=["POST"]),
        Route("/_sandbox/stats", stats, methods=["GET"]),
        Route("/_sandbox/health", health, methods=["GET"]),
    ]


def create_app(data_dir: Path, client_id: str, client_secret: str, token_ttl: int,
               control_token: str | None = None) -> ASGIApp:
    """Starlette app wrapped in fault injection; the hub client is granted the hub forms."""
    store = NettskjemaStore(data_dir)
    store.grant_hub_forms(principal(client_id))
    issuer = TokenIssuer(Clients({client_id: client_secret}), token_ttl)
    inner = Starlette(routes=[*_api_routes(store, issuer), *_control_routes(store, issuer)])

    async def not_found(request: Request, exc: Exception) -> Response:
        return _error(404, "Fant ikke ressursen", request)

    inner.add_exception_handler(404, not_found)
    return FaultInjector(GzipApi(inner, issuer.stats, API_PREFIX), control_token=control_token,
                         error_body=lambda status, msg: {"message": msg})
