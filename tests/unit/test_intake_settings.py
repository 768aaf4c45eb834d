"""The intake's secrets from the environment: one, several (rotation), and never printed."""

from __future__ import annotations

import base64
import os

import pytest

from hub.settings import Settings

WHSEC = "whsec_" + base64.b64encode(b"a-rotation-key-0123456789").decode()


@pytest.fixture(autouse=True)
def no_hub_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("HUB_"):
            monkeypatch.delenv(key)


def test_the_local_default_is_one_plain_secret() -> None:
    assert Settings().intake.active_secrets() == ["sandbox-hmac-secret"]


def test_the_single_secret_variable_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_INTAKE__HMAC_SECRET", WHSEC)
    assert Settings().intake.active_secrets() == [WHSEC]


@pytest.mark.parametrize("value", [f'["{WHSEC}", "old-plain-secret"]', f"{WHSEC},old-plain-secret",
                                   f"{WHSEC}, old-plain-secret", f" {WHSEC} old-plain-secret "])
def test_several_secrets_as_a_json_or_comma_list(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("HUB_INTAKE__HMAC_SECRET", "ignored-when-a-list-is-set")
    monkeypatch.setenv("HUB_INTAKE__HMAC_SECRETS", value)
    settings = Settings()
    assert settings.intake.active_secrets() == [WHSEC, "old-plain-secret"]  # the first signs
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert WHSEC not in text and "old-plain-secret" not in text


def test_a_broken_whsec_secret_is_named_not_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_INTAKE__HMAC_SECRETS", "whsec_not*base64!")
    with pytest.raises(ValueError, match="HUB_INTAKE__HMAC_SECRET") as caught:
        Settings().intake.active_secrets()
    assert "not*base64" not in str(caught.value)
