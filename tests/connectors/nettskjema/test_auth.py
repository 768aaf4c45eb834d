"""Client-credentials auth against the real sandbox: caching, refresh before expiry, one
retry on 401, and what happens when the token endpoint refuses or is down.

This module's sandbox issues tokens that live 2 seconds, so expiry happens during a test.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest

from connectors.nettskjema.client import NettskjemaForms
from hub.errors import ConfigError, TransientError
from sandbox.common import control_headers
from sandbox.nettskjema.forms import HUB_FORM_IDS
from sandbox.nettskjema.process import start_nettskjema_sandbox
from sandbox.procs import Proc, free_port
from tests.connectors.nettskjema.conftest import MakeForms, arm_fault, armed_faults, config_for, stats

TTL = 2


@pytest.fixture(scope="module")
def nettskjema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_nettskjema_sandbox(tmp_path_factory.mktemp("ns-auth"), tmp_path_factory.mktemp("logs"),
                                    token_ttl=TTL)
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def long_lived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    """Tokens that live an hour: a revocation, not an expiry, is what the test sees, however
    slowly a loaded machine runs it (with 2 s tokens the client refreshed ahead of the 401)."""
    proc = start_nettskjema_sandbox(tmp_path_factory.mktemp("ns-revoke"), tmp_path_factory.mktemp("logs"),
                                    token_ttl=3600)
    yield proc
    proc.stop()


def delta(before: dict[str, int], after: dict[str, int], key: str) -> int:
    return after.get(key, 0) - before.get(key, 0)


async def test_token_is_cached_and_refreshed_before_it_expires(nettskjema: Proc, make_forms: MakeForms) -> None:
    before = stats(nettskjema)
    async with make_forms() as forms:  # default margin 60 s, capped at a quarter of 2 s
        assert len(await forms.list_forms()) == len(HUB_FORM_IDS)
        assert len(await forms.list_forms()) == len(HUB_FORM_IDS)
        middle = stats(nettskjema)
        assert delta(before, middle, "tokens_issued") == 1  # cached for the second call
        time.sleep(TTL * 0.75 + 0.2)  # past the refresh point (1.5 s), before the server's expiry (2 s)
        assert len(await forms.list_forms()) == len(HUB_FORM_IDS)
        time.sleep(TTL + 0.2)  # idle past the second token's expiry
        assert len(await forms.list_forms()) == len(HUB_FORM_IDS)
        assert forms.auth.tokens_fetched == 3
    after = stats(nettskjema)
    assert delta(before, after, "tokens_issued") == 3
    assert delta(before, after, "api_requests") == 4
    assert delta(before, after, "api_unauthorized") == 0  # refreshed in time: no request was refused


async def test_revoked_token_is_refreshed_once_and_the_request_retried(long_lived: Proc) -> None:
    async with NettskjemaForms(config_for(long_lived)) as forms:
        await forms.list_forms()
        httpx.post(f"{long_lived.url}/_sandbox/revoke-tokens", headers=control_headers(), timeout=5)
        before = stats(long_lived)
        assert [f.form_id for f in await forms.list_forms()] == list(HUB_FORM_IDS)
    after = stats(long_lived)
    assert delta(before, after, "api_unauthorized") == 1
    assert delta(before, after, "tokens_issued") == 1
    assert delta(before, after, "api_requests") == 2  # the refused request and its one retry


async def test_a_revoked_token_on_the_ndjson_stream_is_refreshed_too(long_lived: Proc) -> None:
    async with NettskjemaForms(config_for(long_lived)) as forms:
        await forms.list_forms()
        httpx.post(f"{long_lived.url}/_sandbox/revoke-tokens", headers=control_headers(), timeout=5)
        before = stats(long_lived)
        ids = [m.submission_id async for m in forms.submissions_after(404101, None)]
    assert len(ids) == 6
    after = stats(long_lived)
    assert (delta(before, after, "api_unauthorized"), delta(before, after, "tokens_issued")) == (1, 1)


async def test_a_second_401_is_a_config_error(nettskjema: Proc, make_forms: MakeForms) -> None:
    async with make_forms() as forms:
        await forms.list_forms()
        before = stats(nettskjema)
        arm_fault(nettskjema, path="/api/v3/form/me", status=401, count=2)
        with pytest.raises(ConfigError) as caught:
            await forms.list_forms()
    assert caught.value.status == 401
    assert "fresh access token" in caught.value.message and "newly issued token" in caught.value.hint
    assert delta(before, stats(nettskjema), "tokens_issued") == 1  # one refresh, not a loop
    assert armed_faults(nettskjema) == []


async def test_concurrent_requests_share_one_token(nettskjema: Proc, make_forms: MakeForms) -> None:
    before = stats(nettskjema)
    async with make_forms() as forms:
        results = await asyncio.gather(*(forms.list_forms() for _ in range(8)))
    assert all(len(r) == len(HUB_FORM_IDS) for r in results)
    assert delta(before, stats(nettskjema), "tokens_issued") == 1


async def test_wrong_secret_is_a_config_error_naming_no_secret(nettskjema: Proc, make_forms: MakeForms) -> None:
    before = stats(nettskjema)
    async with make_forms(client_secret="feil-hemmelighet-123") as forms:
        with pytest.raises(ConfigError) as caught:
            await forms.list_forms()
        health = await forms.health()
    assert "invalid_client" in caught.value.message
    assert "CLIENT_SECRET" in caught.value.hint
    assert "feil-hemmelighet-123" not in str(caught.value) and "feil-hemmelighet-123" not in health.detail
    assert not health.ok
    after = stats(nettskjema)
    assert delta(before, after, "token_refused") == 2
    assert delta(before, after, "api_requests") == 0  # nothing reached the API without a token


async def test_token_endpoint_overload_is_retried(nettskjema: Proc, make_forms: MakeForms) -> None:
    arm_fault(nettskjema, path="/oauth2/token", status=503, count=1, retry_after=1)
    started = time.monotonic()
    async with make_forms() as forms:
        assert len(await forms.list_forms()) == len(HUB_FORM_IDS)
    assert time.monotonic() - started >= 1.0  # Retry-After honoured
    assert armed_faults(nettskjema) == []


async def test_unreachable_token_endpoint_is_transient(nettskjema: Proc, make_forms: MakeForms) -> None:
    dead = f"http://127.0.0.1:{free_port()}/oauth2/token"
    async with make_forms(token_url=dead, max_attempts=2, max_retry_seconds=2.0) as forms:
        with pytest.raises(TransientError) as caught:
            await forms.list_forms()
        health = await forms.health()
    assert "cannot reach nettskjema" in caught.value.message
    assert not health.ok and "cannot reach" in health.detail
