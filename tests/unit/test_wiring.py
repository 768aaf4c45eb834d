"""A flow run gets the ports its service declares, each built the first time it is used: a
broken ticketing configuration stops the services that use ticketing, not the others."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hub.errors import ConfigError
from hub.settings import Settings
from hub.wiring import connect, step_ports


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    for key in list(os.environ):
        if key.startswith("HUB_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HUB_RT__TOKEN_FILE", str(tmp_path / "no-such-token"))  # RT is misconfigured
    monkeypatch.delenv("HUB_RT__TOKEN", raising=False)
    return Settings()


async def test_a_service_builds_only_the_ports_it_uses_when_it_uses_them(settings: Settings) -> None:
    async with connect(settings, service="fritak") as ports:
        assert ports.built == ()
        assert ports.forms is ports.forms  # built once, then the same adapter
        assert ports.built == ("forms",)
        with pytest.raises(LookupError, match="does not declare the ticketing port"):
            _ = ports.ticketing
    assert ports.built == ()  # closed at the end


async def test_a_broken_adapter_fails_where_it_is_used_with_its_setting_named(settings: Settings) -> None:
    async with connect(settings, service="onboarding") as ports:
        assert ports.hr is not None and ports.archive is not None  # the other ports are fine
        with pytest.raises(ConfigError, match="no-such-token"):
            _ = ports.ticketing


async def test_within_a_step_only_the_ports_it_declares_are_handed_out(settings: Settings) -> None:
    async with connect(settings, service="fritak") as ports:
        _ = ports.archive  # built outside the step: being built already does not let a step use it
        with step_ports("read application", ["forms"]):
            assert ports.forms is not None
            with pytest.raises(LookupError, match="step 'read application' does not declare the archive port"):
                _ = ports.archive
        assert ports.archive is not None  # outside the step, the service's declaration is the bound


def test_a_step_that_declares_an_unknown_port_is_refused() -> None:
    with pytest.raises(ValueError, match=r"declares unknown port\(s\) \['archiv'\]"), step_ports("x", ["archiv"]):
        pass


async def test_a_step_task_holds_its_declaration_and_releases_it(settings: Settings) -> None:
    from hub.flowkit import step_task

    async with connect(settings, service="fritak") as ports:
        @step_task("peek", ports=["forms"])
        async def peek() -> str:
            with pytest.raises(LookupError, match="does not declare the mail port"):
                _ = ports.mail
            return type(ports.forms).__name__

        assert await peek.fn() == type(ports.forms).__name__
        assert ports.mail is not None
