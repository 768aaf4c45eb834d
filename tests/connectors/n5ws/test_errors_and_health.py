"""Failures map to the error tree (401, 404, 503 + Retry-After, unreachable); health."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from connectors.n5ws import N5wsArchive
from hub.errors import ConfigError, NotFound, TransientError
from hub.ports.archive import NewCaseFile, NewJournalEntry
from sandbox.common import control_headers
from sandbox.procs import Proc, free_port


def new_case() -> NewCaseFile:
    return NewCaseFile(external_id=f"nettskjema:{uuid.uuid4()}", title="Sak", public_title="Sak")


async def test_wrong_password_is_config_error(make_archive: Callable[..., N5wsArchive]) -> None:
    archive = make_archive(password="not-the-password")
    try:
        with pytest.raises(ConfigError) as caught:
            await archive.find_case_files("nettskjema:1")
        assert caught.value.status == 401
        health = await archive.health()
        assert not health.ok and "config" in health.detail
    finally:
        await archive.aclose()


async def test_503_with_retry_after_is_retried_until_it_succeeds(
        archive: N5wsArchive, n5ws_sandbox: Proc, raw_http: httpx.AsyncClient) -> None:
    made = await archive.ensure_case_file(new_case())
    assert made.external_id
    fault = {"path": "/noark5v5/api/", "status": 503, "count": 1, "retry_after": 1}
    assert (await raw_http.post(f"{n5ws_sandbox.url}/_sandbox/faults", headers=control_headers(),
                                json=fault)).status_code == 201
    started = time.monotonic()
    found = await archive.find_case_files(made.external_id)
    elapsed = time.monotonic() - started
    assert [c.system_id for c in found] == [made.system_id]
    assert elapsed >= 1.0  # Retry-After: 1 was honoured (the policy's own backoff starts at 0.2 s)
    armed = await raw_http.get(f"{n5ws_sandbox.url}/_sandbox/faults", headers=control_headers())
    assert armed.json() == []  # the fault was hit


async def test_persistent_503_gives_up_as_transient(
        make_archive: Callable[..., N5wsArchive], n5ws_sandbox: Proc, raw_http: httpx.AsyncClient) -> None:
    archive = make_archive(max_attempts=2)
    fault = {"path": "/noark5v5/api/", "status": 503, "count": 2, "retry_after": 0}
    await raw_http.post(f"{n5ws_sandbox.url}/_sandbox/faults", headers=control_headers(), json=fault)
    try:
        with pytest.raises(TransientError):
            await archive.find_case_files("nettskjema:1")
    finally:
        await raw_http.delete(f"{n5ws_sandbox.url}/_sandbox/faults", headers=control_headers())
        await archive.aclose()


async def test_deleted_case_file_is_not_found(archive: N5wsArchive, raw_http: httpx.AsyncClient) -> None:
    case = await archive.ensure_case_file(new_case())
    assert case.url
    assert (await raw_http.delete(case.url)).status_code == 204
    entry = NewJournalEntry(external_id="x:1", title="Brev", public_title="Brev", journal_type="U",
                            document_date=datetime.now(ZoneInfo("Europe/Oslo")))
    with pytest.raises(NotFound) as caught:
        await archive.ensure_journal_entry(case, entry)
    assert caught.value.status == 404
    assert await archive.find_case_files(str(case.external_id)) == []


async def test_health_reports_product_and_protocol(archive: N5wsArchive) -> None:
    health = await archive.health()
    assert health.ok, health.detail
    assert health.system == "n5ws"
    assert health.version and "N5WS 1.1" in health.version
    assert "N5WS sandbox" in health.detail
    assert health.latency_ms > 0


async def test_unreachable_core_is_transient_not_a_raw_httpx_error(
        make_archive: Callable[..., N5wsArchive]) -> None:
    archive = make_archive(base_url=f"http://127.0.0.1:{free_port()}/noark5v5", max_attempts=2,
                           max_retry_seconds=2.0)
    try:
        with pytest.raises(TransientError):
            await archive.ensure_case_file(new_case())
        health = await archive.health()
        assert not health.ok and "transient" in health.detail
    finally:
        await archive.aclose()
