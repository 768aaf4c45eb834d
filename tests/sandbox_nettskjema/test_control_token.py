"""The Nettskjema sandbox's control routes need the control token — not an API bearer token:
without it nobody can add submissions, register clients, grant forms or revoke tokens."""

from __future__ import annotations

import httpx
import pytest

from sandbox.common import TOKEN_HEADER, control_headers
from sandbox.nettskjema.forms import LAPTOP_FORM_ID
from sandbox.procs import Proc
from tests.sandbox_nettskjema.conftest import api, ndjson


def laptop_submissions(nettskjema: Proc, token: str) -> int:
    return len(ndjson(api(nettskjema, f"form/{LAPTOP_FORM_ID}/submission-metadata", token)))


def refused(token: str) -> list[dict[str, str]]:
    """No token, a wrong one, and the hub's own API token (valid for the API, not for control)."""
    return [{}, {TOKEN_HEADER: "wrong"}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Bearer {token}"}]


def test_control_calls_without_the_token_change_nothing(nettskjema: Proc, token: str) -> None:
    before = laptop_submissions(nettskjema, token)
    for headers in refused(token):
        calls = [("POST", "/_sandbox/forms/laptop/submissions", {"answers": {"feide": "x@oslomet.no"}}),
                 ("POST", "/_sandbox/forms/laptop/bulk", {"count": 5}),
                 ("POST", "/_sandbox/revoke-tokens", None),
                 ("POST", "/_sandbox/clients", {"clientId": "intruder", "clientSecret": "s"}),
                 ("POST", "/_sandbox/forms/laptop/grants", {"clientId": "intruder"}),
                 ("GET", "/_sandbox/stats", None), ("GET", "/_sandbox/forms", None)]
        for method, path, body in calls:
            response = httpx.request(method, f"{nettskjema.url}{path}", json=body, headers=headers, timeout=5)
            assert response.status_code == 401, (method, path, headers)
    assert laptop_submissions(nettskjema, token) == before  # nothing added
    assert api(nettskjema, "form/me", token).status_code == 200  # the token was not revoked
    intruder = httpx.post(nettskjema.extra["token_url"], auth=("intruder", "s"),
                          data={"grant_type": "client_credentials"}, timeout=5)
    assert intruder.status_code == 401  # no client was registered


@pytest.mark.parametrize("how", ["header", "bearer"])
def test_control_calls_with_the_token_work(nettskjema: Proc, token: str, how: str) -> None:
    secret = control_headers()[TOKEN_HEADER]
    headers = {TOKEN_HEADER: secret} if how == "header" else {"Authorization": f"Bearer {secret}"}
    before = laptop_submissions(nettskjema, token)
    added = httpx.post(f"{nettskjema.url}/_sandbox/forms/laptop/submissions", headers=headers, timeout=5,
                       json={"answers": {"feide": "ok@oslomet.no"}})
    assert added.status_code == 201, added.text
    assert laptop_submissions(nettskjema, token) == before + 1
