"""The TOPdesk sandbox's control routes need the control token — not the API user's
application password: without it nobody can reset the data or read all of it."""

from __future__ import annotations

import httpx

from sandbox.common import TOKEN_HEADER, control_headers
from sandbox.procs import Proc
from tests.sandbox_topdesk.conftest import incident_body


def test_reset_without_the_right_token_keeps_the_data(topdesk: Proc, api: httpx.Client) -> None:
    created = api.post("incidents", json=incident_body(briefDescription="Must survive")).json()
    basic = httpx.BasicAuth(topdesk.extra["username"], topdesk.extra["app_password"])
    for headers, auth in (({}, None), ({TOKEN_HEADER: "wrong"}, None), ({"Authorization": "Bearer wrong"}, None),
                          ({}, basic)):
        assert httpx.post(f"{topdesk.url}/_sandbox/reset", headers=headers, auth=auth).status_code == 401
        assert httpx.get(f"{topdesk.url}/_sandbox/state", headers=headers, auth=auth).status_code == 401
    assert api.get(f"incidents/id/{created['id']}").status_code == 200

    reset = httpx.post(f"{topdesk.url}/_sandbox/reset", headers=control_headers())
    assert reset.status_code == 200 and reset.json()["incidents"] == 0
    assert api.get(f"incidents/id/{created['id']}").status_code == 404
