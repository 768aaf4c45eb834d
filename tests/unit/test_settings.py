"""Settings: embedded defaults, HUB_ overrides, and secrets that never print."""

from __future__ import annotations

import os

import pytest
from pydantic import BaseModel, SecretStr

from hub.config import ConnectorConfig
from hub.settings import Settings

SECRETS = ("sandbox-dfo-key", "sandbox-n5ws-password", "sandbox-hmac-secret")


@pytest.fixture(autouse=True)
def no_hub_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Other tests (the e2e stack) may have set HUB_* variables in this process."""
    for key in list(os.environ):
        if key.startswith("HUB_"):
            monkeypatch.delenv(key)


def test_embedded_defaults_point_at_the_local_stack() -> None:
    settings = Settings()
    assert settings.dfo.base_url == "http://127.0.0.1:8701/api"
    assert settings.n5ws.base_url.startswith("http://127.0.0.1:8702/")
    assert settings.rt.base_url == "http://127.0.0.1:8703"
    assert settings.ledger.startswith("sqlite:///")
    assert settings.tz.key == "Europe/Oslo"


def test_one_nested_variable_keeps_the_other_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_RT__BASE_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("HUB_DFO__API_KEY", "k-from-env")
    settings = Settings()
    assert settings.rt.base_url == "http://127.0.0.1:9999"
    assert settings.rt.account_queue == "User accounts"
    assert settings.dfo.api_key.get_secret_value() == "k-from-env"
    assert settings.dfo.base_url == "http://127.0.0.1:8701/api"


def test_secrets_never_print() -> None:
    settings = Settings()
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        for secret in SECRETS:
            assert secret not in text


def _connector_configs(settings: Settings) -> list[BaseModel]:
    return [v for v in (getattr(settings, name) for name in type(settings).model_fields)
            if isinstance(v, ConnectorConfig)]


def test_every_connector_field_is_described_and_secrets_are_secretstr() -> None:
    configs = _connector_configs(Settings())
    assert {type(c).__name__ for c in configs} >= {"DfoConfig", "N5wsConfig", "RtConfig", "SmtpConfig"}
    for config in configs:
        for name, field in type(config).model_fields.items():
            assert field.description, f"{type(config).__name__}.{name} has no description"
            looks_secret = any(w in name for w in ("password", "secret", "token", "api_key"))
            if looks_secret and not name.endswith(("_file", "_url")):
                assert "SecretStr" in str(field.annotation), f"{type(config).__name__}.{name} is not a SecretStr"
    assert isinstance(Settings().intake.hmac_secret, SecretStr)
