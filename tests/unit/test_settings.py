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
    assert settings.profile == "local"
    assert settings.adapter_config("dfo").base_url == "http://127.0.0.1:8701/api"
    assert settings.adapter_config("n5ws").base_url.startswith("http://127.0.0.1:8702/")
    assert settings.adapter_config("rt").base_url == "http://127.0.0.1:8703"
    assert settings.ledger.startswith("sqlite:///")
    assert settings.tz.key == "Europe/Oslo"


def test_one_nested_variable_keeps_the_other_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_RT__BASE_URL", "http://127.0.0.1:9999")
    monkeypatch.setenv("HUB_DFO__API_KEY", "k-from-env")
    settings = Settings()
    rt, dfo = settings.adapter_config("rt"), settings.adapter_config("dfo")
    assert rt.base_url == "http://127.0.0.1:9999"
    assert rt.account_queue == "User accounts"
    assert dfo.api_key.get_secret_value() == "k-from-env"
    assert dfo.base_url == "http://127.0.0.1:8701/api"


def test_secrets_never_print() -> None:
    settings = Settings()
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        for secret in SECRETS:
            assert secret not in text


def _connector_configs(settings: Settings) -> list[BaseModel]:
    from connectors.registry import ADAPTERS

    return [c for c in (settings.adapter_config(a.name) for a in ADAPTERS) if isinstance(c, ConnectorConfig)]


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


# ---- the production profile -------------------------------------------------------------------

PRODUCTION = {
    "HUB_PROFILE": "production",
    "HUB_INTAKE__HMAC_SECRETS": "whsec_" + "c2VjcmV0LWZyb20tdGhlLXZhdWx0LTAx",
    "HUB_ROOMS__REFERENCE_SECRET": "rooms-secret-from-the-vault",
    "HUB_DFO__BASE_URL": "https://dfo.example.no/api", "HUB_DFO__API_KEY": "dfo-key-from-the-vault",
    "HUB_N5WS__BASE_URL": "https://arkiv.example.no/noark5v5", "HUB_N5WS__USERNAME": "hub",
    "HUB_N5WS__PASSWORD": "n5ws-password-from-the-vault",
    "HUB_RT__BASE_URL": "https://rt.example.no", "HUB_RT__TOKEN": "rt-token-from-the-vault",
    "HUB_NETTSKJEMA__BASE_URL": "https://nettskjema.no/api/v3",
    "HUB_NETTSKJEMA__TOKEN_URL": "https://auth.nettskjema.no/oauth2/token",
    "HUB_NETTSKJEMA__CLIENT_ID": "hub", "HUB_NETTSKJEMA__CLIENT_SECRET": "nettskjema-secret-from-the-vault",
    "HUB_SMTP__BASE_URL": "smtp://smtp.example.no:25", "HUB_SMTP__FROM_ADDRESS": "tjenesteplattform@example.no",
    "HUB_CALDAV__BASE_URL": "https://caldav.example.no", "HUB_CALDAV__USERNAME": "hub",
    "HUB_CALDAV__PASSWORD": "caldav-password-from-the-vault",
    "HUB_MAILDIR__PATH": "/var/mail/avbestill",
}


def _production(monkeypatch: pytest.MonkeyPatch, **changes: str | None) -> None:
    for key, value in {**PRODUCTION, **changes}.items():
        if value is None:
            monkeypatch.delenv(key, raising=False)
        else:
            monkeypatch.setenv(key, value)


def test_production_starts_when_every_setting_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch)
    settings = Settings()
    assert settings.profile == "production" and settings.problems() == []
    assert settings.adapter_config("rt").base_url == "https://rt.example.no"


def test_production_refuses_the_sandbox_secret_and_a_missing_password_naming_each(
        monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch, HUB_INTAKE__HMAC_SECRETS=None, HUB_INTAKE__HMAC_SECRET="sandbox-hmac-secret",
                HUB_N5WS__PASSWORD=None, HUB_CALDAV__BASE_URL=None)
    with pytest.raises(ValueError) as refused:
        Settings()
    message = str(refused.value)
    assert "production profile refuses to start" in message
    for setting in ("HUB_INTAKE__HMAC_SECRET", "HUB_N5WS__PASSWORD", "HUB_CALDAV__BASE_URL"):
        assert setting in message, message
    assert "sandbox-hmac-secret" not in message  # named, never printed


def test_production_fills_in_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_PROFILE", "production")
    with pytest.raises(ValueError) as refused:
        Settings()
    message = str(refused.value)
    for setting in ("HUB_DFO__BASE_URL", "HUB_DFO__API_KEY", "HUB_RT__", "HUB_INTAKE__HMAC_SECRET",
                    "HUB_ROOMS__REFERENCE_SECRET", "HUB_NETTSKJEMA__CLIENT_SECRET"):
        assert setting in message, message


def test_production_refuses_any_sandbox_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    _production(monkeypatch, HUB_DFO__API_KEY="sandbox-dfo-key")
    with pytest.raises(ValueError, match="HUB_DFO__API_KEY .* sandbox"):
        Settings()


def test_the_production_example_env_file_is_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    """deployments/systemd/hub.env.example, with its CHANGE_ME values filled in, starts the
    production profile: the file names every setting production needs."""
    from sandbox.procs import ROOT

    example = ROOT / "deployments" / "systemd" / "hub.env.example"
    for line in example.read_text().splitlines():
        if line.strip() and not line.startswith("#") and line.startswith("HUB_"):
            key, _, value = line.partition("=")
            monkeypatch.setenv(key, value.replace("CHANGE_ME", f"{key.lower()}-from-the-vault"))
    monkeypatch.setenv("HUB_INTAKE__HMAC_SECRETS", "whsec_c2VjcmV0LWZyb20tdGhlLXZhdWx0LTAx")  # a real key is base64
    settings = Settings()
    assert settings.profile == "production" and settings.problems() == []
