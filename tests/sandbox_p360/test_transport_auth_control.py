"""Transport, both authentication forms, the error envelope, control routes, faults, restarts."""

from __future__ import annotations

from pathlib import Path

import httpx

from sandbox.common import control_headers
from sandbox.p360 import start_p360_sandbox
from sandbox.procs import Proc
from sandbox.rt.install import non_loopback_listeners
from tests.sandbox_p360.conftest import Sif


def test_the_authkey_in_the_query_or_in_the_header_with_the_client_id(p360: Proc) -> None:
    base, key, client = p360.extra["base_url"], p360.extra["auth_key"], p360.extra["client_id"]
    url = f"{base}/SupportService/GetSIFVersion"
    assert httpx.post(url, params={"authkey": key}, json={"parameter": {}}).json()["Successful"]
    assert httpx.post(url, headers={"Authorization": f"authkey {key}", "clientid": client},
                      json={"parameter": {}}).json()["Successful"]
    assert httpx.post(url, params={"clientId": client}, headers={"Authorization": f"authkey {key}"},
                      json={"parameter": {}}).status_code == 200
    for params, headers in (({}, {}), ({"authkey": "wrong"}, {}), ({}, {"Authorization": f"authkey {key}"}),
                            ({}, {"Authorization": "authkey wrong", "clientid": client})):
        response = httpx.post(url, params=params, headers=headers, json={"parameter": {}})
        assert response.status_code == 401 and "denied" in response.json()["Message"]


def test_ping_is_200_without_a_body_and_unknown_methods_are_404(p360: Proc) -> None:
    base, key = p360.extra["base_url"], p360.extra["auth_key"]
    ping = httpx.post(f"{base}/CaseService/Ping", params={"authkey": key})
    assert ping.status_code == 200 and ping.content == b""
    assert httpx.post(f"{base}/CaseService/DropEverything", params={"authkey": key}, json={}).status_code == 404


def test_business_errors_are_200_with_successful_false(sif: Sif) -> None:
    result = sif("CaseService", "GetCases")
    assert result["Successful"] is False and "criterion" in result["ErrorMessage"] and result["ErrorDetails"]
    raw = sif("CaseService", "CreateCase", Title="x", Paragraph="Offl. § 99")
    assert raw["Successful"] is False
    assert raw["ErrorMessage"].startswith("Error sending object CreateCaseTransaction ()")
    assert "<operation>" in raw["ErrorMessage"] and "Law" in raw["ErrorMessage"]
    denied = sif("CaseService", "GetCases", CaseNumber="26/00001", ADContextUser="nobody")
    assert denied["Successful"] is False and "impersonate" in denied["ErrorMessage"]
    assert sif("CaseService", "GetCases", CaseNumber="26/00001", ADContextUser="arkivar")["Successful"]


def test_code_tables_are_served(sif: Sif) -> None:
    rows = sif.ok("SupportService", "GetCodeTableRows", CodeTableName="code table: Case status")["CodeTableRows"]
    assert {"Recno": 17, "Code": "AS", "Description": "Avsluttet av saksbehandler", "IsExpired": False,
            "Language": "NOR"} in rows


def test_control_routes_need_the_token_and_faults_work(p360: Proc, sif: Sif) -> None:
    assert httpx.get(f"{p360.url}/_sandbox/health").status_code == 401
    assert httpx.get(f"{p360.url}/_sandbox/health", params={"authkey": p360.extra["auth_key"]}).status_code == 401
    assert httpx.get(f"{p360.url}/_sandbox/health", headers=control_headers()).status_code == 200
    assert httpx.delete(f"{p360.url}/_sandbox/cases/1").status_code == 401
    httpx.post(f"{p360.url}/_sandbox/faults", headers=control_headers(),
               json={"path": "/Biz/v2/api/call/SI.Data.RPC/SI.Data.RPC/CaseService", "status": 503, "count": 1,
                     "retry_after": 2})
    failed = sif.client.post("CaseService/GetCases", json={"parameter": {"CaseNumber": "x"}})
    assert failed.status_code == 503 and failed.headers["Retry-After"] == "2"
    assert sif.ok("CaseService", "GetCases", CaseNumber="x")["Cases"] == []


def test_restart_keeps_the_data_and_listens_on_loopback_only(tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    proc = start_p360_sandbox(data, logs, auth_key="s3cret-key")
    try:
        assert "s3cret-key" not in " ".join(proc.popen.args)  # type: ignore[arg-type]
        port = int(str(proc.url).rsplit(":", 1)[-1])
        assert all(p != port for _, p in non_loopback_listeners())
        sif = Sif(proc)
        created = sif.ok("CaseService", "CreateCase", Title="Varig", ExternalId={"Id": "k1", "Type": "t"})
        sif.ok("DocumentService", "CreateDocument", Title="D", Category="Dokument inn", Status="J",
               CaseNumber=created["CaseNumber"])
    finally:
        proc.stop()
    again = start_p360_sandbox(data, logs, auth_key="s3cret-key")
    try:
        sif = Sif(again)
        [case] = sif.ok("CaseService", "GetCases", ExternalId={"Id": "k1", "Type": "t"})["Cases"]
        assert case["CaseNumber"] == created["CaseNumber"]
        next_case = sif.ok("CaseService", "CreateCase", Title="Neste")
        assert next_case["CaseNumber"] != created["CaseNumber"]  # sequences survive too
        [doc] = sif.ok("DocumentService", "GetDocuments", CaseNumber=created["CaseNumber"])["Documents"]
        assert doc["DocumentNumber"] == f"{created['CaseNumber']}-1"
    finally:
        again.stop()
