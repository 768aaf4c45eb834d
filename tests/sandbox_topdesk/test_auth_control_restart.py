"""Auth with an application password, control routes, fault injection, restarts, loopback."""

from __future__ import annotations

from pathlib import Path

import httpx

from sandbox.common import control_headers
from sandbox.procs import Proc
from sandbox.rt.install import non_loopback_listeners
from sandbox.topdesk import start_topdesk_sandbox
from tests.sandbox_topdesk.conftest import incident_body


def test_wrong_or_missing_credentials_are_401(topdesk: Proc) -> None:
    base = topdesk.extra["base_url"]
    for auth in (None, ("hub", "wrong"), ("other", topdesk.extra["app_password"])):
        response = httpx.get(f"{base}/incidents", auth=auth)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Basic")
        assert "not valid" in response.json()[0]["message"]
    assert httpx.get(f"{base}/assetmgmt/assets", headers={"Authorization": "Basic !!"}).status_code == 401
    # the control routes need the control token, not the API credentials
    api_user = ("hub", topdesk.extra["app_password"])
    assert httpx.get(f"{topdesk.url}/_sandbox/health", auth=api_user).status_code == 401
    assert httpx.get(f"{topdesk.url}/_sandbox/health", headers=control_headers()).status_code == 200


def test_fault_injection_with_retry_after(topdesk: Proc, api: httpx.Client) -> None:
    httpx.post(f"{topdesk.url}/_sandbox/faults", headers=control_headers(),
               json={"path": "/tas/api/incidents", "status": 503, "count": 1,
                                                       "retry_after": 2})
    failed = api.get("incidents")
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "2"
    assert api.get("incidents").status_code in (200, 204, 206)


def test_state_lists_everything_and_reset_restores_the_seed(topdesk: Proc, api: httpx.Client) -> None:
    created = api.post("incidents", json=incident_body()).json()
    state = httpx.get(f"{topdesk.url}/_sandbox/state", headers=control_headers()).json()
    assert created["id"] in state["incidents"] and len(state["assets"]) == 12
    assert {"persons", "branches", "operatorgroups", "processing_statuses", "assignments"} <= set(state)
    reset = httpx.post(f"{topdesk.url}/_sandbox/reset", headers=control_headers()).json()
    assert reset["incidents"] == 0 and reset["assets"] == 12
    assert api.get(f"incidents/id/{created['id']}").status_code == 404


def test_restart_keeps_data_and_custom_credentials(tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    proc = start_topdesk_sandbox(data, logs, username="svc-hub", app_password="s3cret-app-pw")
    try:
        auth = ("svc-hub", "s3cret-app-pw")
        base = proc.extra["base_url"]
        assert httpx.get(f"{base}/version", auth=("hub", "sandbox-topdesk-app-password")).status_code == 401
        first = httpx.post(f"{base}/incidents", json=incident_body(), auth=auth).json()
        asset = httpx.get(f"{base}/assetmgmt/assets", params={"nameFragment": "LT-1001"}, auth=auth).json()
        asset_id = asset["dataSet"][0]["id"]
        httpx.patch(f"{base}/assetmgmt/assets/{asset_id}", json={"hub-reference": "kept"}, auth=auth)
        assert "s3cret-app-pw" not in " ".join(proc.popen.args)  # type: ignore[arg-type]
    finally:
        proc.stop()
    again = start_topdesk_sandbox(data, logs, username="svc-hub", app_password="s3cret-app-pw")
    try:
        base = again.extra["base_url"]
        kept = httpx.get(f"{base}/incidents/number/{first['number']}", auth=auth)
        assert kept.status_code == 200 and kept.json()["id"] == first["id"]
        second = httpx.post(f"{base}/incidents", json=incident_body(), auth=auth).json()
        assert int(second["number"][-3:]) == int(first["number"][-3:]) + 1
        stored = httpx.get(f"{base}/assetmgmt/assets/{asset_id}", auth=auth).json()["data"]
        assert stored["hub-reference"] == "kept"
    finally:
        again.stop()


def test_listens_on_loopback_only(topdesk: Proc) -> None:
    port = int(str(topdesk.url).rsplit(":", 1)[-1])
    assert all(p != port for _, p in non_loopback_listeners())
