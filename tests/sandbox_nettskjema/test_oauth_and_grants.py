"""The sandbox's OAuth 2 client-credentials flow and form grants, over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from sandbox.common import control_headers
from sandbox.nettskjema.forms import FRITAK_FORM_ID, HUB_FORM_IDS, LAPTOP_FORM_ID, UNSHARED_FORM_ID
from sandbox.nettskjema.process import start_nettskjema_sandbox
from sandbox.procs import Proc
from tests.sandbox_nettskjema.conftest import CLIENT, api, fetch_token, ndjson, stats


def token_response(proc: Proc, auth: tuple[str, str] | None, data: dict[str, str]) -> httpx.Response:
    return httpx.post(proc.extra["token_url"], auth=auth, data=data, timeout=5)


def test_client_credentials_token(nettskjema: Proc) -> None:
    response = token_response(nettskjema, CLIENT, {"grant_type": "client_credentials"})
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400
    assert response.headers["cache-control"] == "no-store"
    assert api(nettskjema, "form/me", body["access_token"]).status_code == 200


@pytest.mark.parametrize("auth", [(CLIENT[0], "wrong-secret"), ("someone-else", CLIENT[1]), None],
                         ids=["wrong-secret", "unknown-client", "no-credentials"])
def test_bad_client_credentials_are_invalid_client(nettskjema: Proc, auth: tuple[str, str] | None) -> None:
    before = stats(nettskjema).get("tokens_issued", 0)
    response = token_response(nettskjema, auth, {"grant_type": "client_credentials"})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")
    assert "access_token" not in response.json()
    assert stats(nettskjema).get("tokens_issued", 0) == before


def test_wrong_or_missing_grant_type(nettskjema: Proc) -> None:
    wrong = token_response(nettskjema, CLIENT, {"grant_type": "password"})
    assert (wrong.status_code, wrong.json()["error"]) == (400, "unsupported_grant_type")
    missing = token_response(nettskjema, CLIENT, {})
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")


@pytest.mark.parametrize("token", [None, "not-a-token"], ids=["missing", "unknown"])
def test_api_needs_a_valid_bearer_token(nettskjema: Proc, token: str | None) -> None:
    response = api(nettskjema, "form/me", token)
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.content == b""


def test_revoked_tokens_answer_401(nettskjema: Proc) -> None:
    token = fetch_token(nettskjema)
    assert api(nettskjema, "form/me", token).status_code == 200
    revoked = httpx.post(f"{nettskjema.url}/_sandbox/revoke-tokens", headers=control_headers(),
                         timeout=5).json()["revoked"]
    assert revoked >= 1
    assert api(nettskjema, "form/me", token).status_code == 401
    assert api(nettskjema, "form/me", fetch_token(nettskjema)).status_code == 200


@pytest.fixture(scope="module")
def short_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_nettskjema_sandbox(tmp_path_factory.mktemp("ns-ttl"), tmp_path_factory.mktemp("logs"),
                                    token_ttl=1)
    yield proc
    proc.stop()


def test_expired_token_answers_401(short_lived: Proc) -> None:
    response = token_response(short_lived, CLIENT, {"grant_type": "client_credentials"})
    assert response.json()["expires_in"] == 1
    token = response.json()["access_token"]
    assert api(short_lived, "form/me", token).status_code == 200
    time.sleep(1.2)
    assert api(short_lived, "form/me", token).status_code == 401
    assert stats(short_lived)["expired_tokens_seen"] == 1


def test_hub_client_sees_only_granted_forms(nettskjema: Proc, token: str) -> None:
    forms = api(nettskjema, "form/me", token).json()
    assert [f["formId"] for f in forms] == list(HUB_FORM_IDS)
    assert [f["title"] for f in forms] == ["Bestille laptop", "Søknad om fritak", "Bestille grupperom",
                                           "Avbestille grupperom"]
    for path in (f"form/{UNSHARED_FORM_ID}/elements", f"form/{UNSHARED_FORM_ID}/submission-metadata",
                 f"form/{UNSHARED_FORM_ID}/answers"):
        response = api(nettskjema, path, token)
        assert response.status_code == 403, path
        assert f"{CLIENT[0]}@apiclient" in response.json()["message"]
    assert api(nettskjema, "form/999999/elements", token).status_code == 404


def test_a_client_sees_a_form_once_it_is_granted(nettskjema: Proc) -> None:
    other = ("forskergruppe-klient", "annen-hemmelighet")
    assert httpx.post(f"{nettskjema.url}/_sandbox/clients", headers=control_headers(),
                      json={"clientId": other[0], "clientSecret": other[1]}, timeout=5).status_code == 201
    token = fetch_token(nettskjema, other)
    assert api(nettskjema, "form/me", token).json() == []
    assert api(nettskjema, f"form/{LAPTOP_FORM_ID}/elements", token).status_code == 403
    metadata = ndjson(api(nettskjema, f"form/{LAPTOP_FORM_ID}/submission-metadata", fetch_token(nettskjema)))
    submission_id = metadata[0]["submissionId"]
    assert api(nettskjema, f"form/submission/{submission_id}", token).status_code == 403
    assert api(nettskjema, f"form/submission/{submission_id}/pdf", token).status_code == 403

    granted = httpx.post(f"{nettskjema.url}/_sandbox/forms/laptop/grants", headers=control_headers(),
                         json={"clientId": other[0]},
                         timeout=5)
    assert granted.json()["granted"] == f"{other[0]}@apiclient"
    assert [f["formId"] for f in api(nettskjema, "form/me", token).json()] == [LAPTOP_FORM_ID]
    assert api(nettskjema, f"form/submission/{submission_id}", token).status_code == 200
    assert api(nettskjema, f"form/{FRITAK_FORM_ID}/elements", token).status_code == 403
