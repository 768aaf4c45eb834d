"""The hub's settings: environment variables with the ``HUB_`` prefix.

Nested values use ``__``: ``HUB_RT__BASE_URL``, ``HUB_DFO__API_KEY``. Secrets are
``SecretStr`` and never printed (``hub doctor`` shows them as ``**********``).

Each adapter's section (``HUB_<ADAPTER>__...``) is kept as given and validated by the
adapter's own config class (the connector registry owns it) when the adapter is built:
:meth:`Settings.adapter_config`. The core imports no connector.

**Profiles** (``HUB_PROFILE``):

- ``local`` (the default) fills in the local stack's URLs and its sandboxes' public
  secrets (each adapter's ``local`` defaults in ``connectors/registry.py``), so the demo and
  the tests run with no configuration at all;
- ``production`` fills in nothing, and refuses to start while any setting the hub needs is
  missing or still a sandbox value, naming every one of them in one message.
"""

from __future__ import annotations

import json
import os
import re
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

#: The source checkout: the ``local`` profile keeps its data in ``ROOT / "var"``.
ROOT = Path(__file__).resolve().parent.parent

__all__ = ["ROOT", "Settings", "IntakeConfig", "OnboardingConfig", "FritakConfig", "LaptopConfig", "RoomsConfig", "PORTS", "get_settings", "OSLO"]

OSLO = ZoneInfo("Europe/Oslo")

# Where each local server listens by default (all on 127.0.0.1).
PORTS = {
    "prefect": 4200,
    "intake": 8700,
    "dfo": 8701,
    "noark5": 8702,
    "rt": 8703,
    "nettskjema": 8704,
    "topdesk": 8705,
    "radicale": 8706,
    "p360": 8707,
    "smtp": 8725,
}


# The local profile's public secrets of the hub's own parts (the adapters' are in the registry).
LOCAL_SECRETS = {"intake.hmac_secret": "sandbox-hmac-secret", "rooms.reference_secret": "sandbox-rooms-reference-secret"}


class IntakeConfig(BaseModel):
    host: str = Field("127.0.0.1", description="Interface the intake receiver listens on.")
    port: int = Field(PORTS["intake"], description="Port of the intake receiver.")
    hmac_secret: SecretStr | None = Field(None,
                                   description="Secret HR signs its events with (Standard Webhooks: "
                                               "whsec_<base64>, or a plain string used as the key). "
                                               "Ignored when hmac_secrets is set. Local profile: "
                                               "the DFØ sandbox's public secret.")
    hmac_secrets: Annotated[list[SecretStr], NoDecode] = Field(
        default_factory=list,
        description="Several active secrets, for rotation: an event signed with any of them is accepted; "
                    "the first is the one the hub's own tools sign with. A JSON list or a comma list "
                    "(HUB_INTAKE__HMAC_SECRETS='whsec_new,whsec_old').")
    sweep_interval: float = Field(5.0, gt=0, description="Seconds between sweeps for undelivered events.")
    sweep_after: float = Field(10.0, ge=0, description="An event not handed to Prefect after this many "
                                                         "seconds is re-dispatched by the sweeper.")
    max_body_bytes: int = Field(64 * 1024, gt=0, description="Larger request bodies are refused (413), "
                                                            "counted while reading.")
    prefect_concurrency: int = Field(4, ge=1, description="Most flow-run creations in flight towards "
                                                          "Prefect at once (a burst waits its turn). More "
                                                          "only helps a Prefect server on PostgreSQL; on "
                                                          "SQLite it turns into 503s (database busy).")

    @field_validator("hmac_secrets", mode="before")
    @classmethod
    def _secret_list(cls, value: Any) -> Any:
        """A JSON list (``["a", "b"]``) or a comma/whitespace list (``a,b``) from the environment."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except ValueError:  # not JSON after all: read it as a list of words
                    text = text.strip("[]")
            return [part.strip("'\"") for part in re.split(r"[,\s]+", text) if part.strip("'\"")]
        return value

    def active_secrets(self) -> list[str]:
        """Every secret an event may be signed with; the first is the one to sign with."""
        import base64
        import binascii

        given = self.hmac_secrets or ([self.hmac_secret] if self.hmac_secret is not None else [])
        chosen = [s.get_secret_value() for s in given]
        for value in chosen:
            if value.startswith("whsec_"):
                try:
                    base64.b64decode(value.removeprefix("whsec_"), validate=True)
                except (binascii.Error, ValueError):  # say which setting, never the value
                    raise ValueError("HUB_INTAKE__HMAC_SECRET(S): a secret starting with whsec_ must be "
                                     "whsec_<base64 key>") from None
        return [value for value in chosen if value]


class OnboardingConfig(BaseModel):
    deployment: str = Field("onboarding/onboarding", description="Deployment that onboards one hire.")
    start_hour: int = Field(6, ge=0, le=23, description="Hour (Europe/Oslo) a future gyldigEtter run starts.")
    catchup_days: int = Field(14, ge=1, description="The daily catch-up re-reads hires starting this soon.")
    archive_series: str = Field("Personalarkiv", description="Arkivdel holding personnel files.")
    laptop_catalog: str = Field("Laptops", description="RT asset catalog laptops are allocated from.")
    laptop_model: str | None = Field("Lenovo ThinkPad T14 Gen 5",
                                     description="Standard laptop for new hires (None: any free model).")
    account_queue: str = Field("User accounts", description="Queue for user-account tickets.")
    equipment_queue: str = Field("Equipment", description="Queue for equipment tickets.")
    hr_contact: str = Field("hr@oslomet.no", description="Who new hires contact with questions.")
    accept_synthetic_ids: bool = Field(True, description="Accept synthetic test identities (Tenor: month + 40 "
                                                         "or + 80) as a hire's national id; false in production.")


class FritakConfig(BaseModel):
    form_id: int = Field(404102, description="Nettskjema form id of 'Søknad om fritak'.")
    deployment: str = Field("fritak-case/fritak-case", description="Deployment that handles one application.")
    archive_series: str = Field("Sakarkiv", description="Arkivdel exemption cases are filed under.")
    sla_days: int = Field(21, ge=1, description="Days from submission to decision before a case is flagged.")
    max_attachment_mb: int = Field(10, ge=1, description="Largest attachment accepted, in MB.")


class LaptopConfig(BaseModel):
    form_id: int = Field(404101, description="Nettskjema form id of 'Bestille laptop'.")
    catalog: str = Field("Laptops", description="RT asset catalog laptops are reserved from.")
    queue: str = Field("Equipment", description="RT queue for laptop orders.")
    archive_series: str = Field("Personalarkiv", description="Arkivdel of the personnel files.")
    models: dict[str, str] = Field(
        default_factory=lambda: {"thinkpad-t14": "Lenovo ThinkPad T14 Gen 5",
                                 "macbook-air-13": "Apple MacBook Air 13 M3",
                                 "latitude-7450": "Dell Latitude 7450"},
        description="Form option → RT asset Model; an option not listed here is not offered.")


class OpsConfig(BaseModel):
    operators: list[str] = Field(default_factory=lambda: ["drift@oslomet.no"],
                                 description="Who gets e-mail when a connector turns unhealthy.")
    health_minutes: int = Field(5, ge=1, description="Minutes between connector health checks.")
    slow_ms: float = Field(2000.0, gt=0, description="A health check slower than this is reported as slow.")
    stuck_after_minutes: int = Field(60, ge=1, description="A pending item older than this is stuck.")


class RoomsConfig(BaseModel):
    form_id: int = Field(404103, description="Nettskjema form id of 'Bestille grupperom'.")
    cancel_form_id: int = Field(404104, description="Nettskjema form id of 'Avbestille grupperom'.")
    cancel_form_url: str = Field("https://nettskjema.no/a/404104",
                                 description="Link to the cancellation form, given in every confirmation.")
    opens: time = Field(time(8, 0), description="Earliest start of a booking (Europe/Oslo).")
    closes: time = Field(time(20, 0), description="Latest end of a booking (Europe/Oslo).")
    max_hours: float = Field(4.0, gt=0, description="Longest booking, in hours.")
    horizon_days: int = Field(14, ge=0, description="How many days ahead rooms can be booked.")
    alternatives: int = Field(3, ge=1, description="Free alternatives offered when nothing fits.")
    reference_secret: SecretStr | None = Field(None, description="Key of the HMAC token in booking references "
                                               "(gr-<id>-<token>). Local profile: a public sandbox value.")
    cancel_mailbox: str = Field("avbestill", description="Local part of the cancel address; confirmations "
                                "reply to <mailbox>+<reference>@<cancel_domain>.")
    cancel_domain: str = Field("tjenesteplattform.oslomet.no", description="Domain of the cancel address.")
    def reference_key(self) -> str:
        """The booking references' HMAC key (the local profile fills in a public one)."""
        if self.reference_secret is None or not self.reference_secret.get_secret_value():
            from hub.errors import ConfigError

            raise ConfigError("no key for group-room booking references", hint="Set HUB_ROOMS__REFERENCE_SECRET.")
        return self.reference_secret.get_secret_value()

    reply_maildir: Path | None = Field(None, description="Maildir where replies to the cancel address arrive "
                                       "(the maildir inbox's path when HUB_MAILDIR__PATH is unset); "
                                       "default <home>/mail (the local SMTP sink's).")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", env_nested_delimiter="__",
                                      extra="ignore", validate_default=True)

    profile: Literal["local", "production"] = Field(
        "local", description="local: the local stack's URLs and sandbox secrets are filled in; production: "
                             "nothing is, and a missing or sandbox value stops start-up.")
    home: Path = Field(ROOT / "var", description="Folder for the ledger, logs and local server data.")
    ledger_url: str | None = Field(None, description="SQLAlchemy URL of the ledger; "
                                                     "default: SQLite file in HUB_HOME.")
    prefect_api_url: str = Field(f"http://127.0.0.1:{PORTS['prefect']}/api",
                                 description="Prefect server API.")
    timezone: str = Field("Europe/Oslo", description="Business time zone.")

    # Which adapter answers each port: a name registered in connectors/registry.py.
    hr: str = Field("dfo", description="HR adapter.")
    archive: str = Field("n5ws", description="Archive adapter.")
    ticketing: str = Field("rt", description="Ticketing adapter (rt or topdesk).")
    mail: str = Field("smtp", description="Mail adapter.")
    forms: str = Field("nettskjema", description="Forms adapter.")
    calendar: str = Field("caldav", description="Calendar adapter (group rooms).")
    inbox: str = Field("maildir", description="Inbox adapter (replies to the group-room cancel address).")

    intake: IntakeConfig = Field(default_factory=IntakeConfig)
    onboarding: OnboardingConfig = Field(default_factory=OnboardingConfig)
    fritak: FritakConfig = Field(default_factory=FritakConfig)
    ops: OpsConfig = Field(default_factory=OpsConfig)
    laptop: LaptopConfig = Field(default_factory=LaptopConfig)
    rooms: RoomsConfig = Field(default_factory=RoomsConfig)
    limits: dict[str, Annotated[int, Field(ge=1)]] = Field(
        default_factory=dict,
        description="Slots of global concurrency limits, overriding the catalog's, as JSON (HUB_LIMITS="
                    "'{\"ticketing\": 4}'): the bound on concurrent writes to a connector, for batches and "
                    "steps alike. Raise it for a peer that takes more (TOPdesk, RT on PostgreSQL).")

    # Every HUB_<ADAPTER>__<FIELD> variable, by adapter; validated when the adapter is built.
    adapters: dict[str, dict[str, Any]] = Field(default_factory=dict, repr=False, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _adapter_sections(cls, data: Any) -> Any:
        """Gather ``HUB_<NAME>__...`` variables that are no core setting into adapter sections
        (and ``Settings(rt={...})`` keyword sections likewise)."""
        if not isinstance(data, dict):
            return data
        fields = set(cls.model_fields)
        sections: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (data.get("adapters") or {}).items()}
        for key in [k for k in data if k not in fields and isinstance(data[k], dict)]:
            sections.setdefault(key, {}).update(data.pop(key))
        for variable, value in os.environ.items():
            if not variable.startswith("HUB_") or "__" not in variable:
                continue
            name, *path = variable[4:].lower().split("__")
            if name in fields or not name or not path:
                continue
            node = sections.setdefault(name, {})
            for part in path[:-1]:
                node = node.setdefault(part, {})
            node.setdefault(path[-1], value)  # a keyword section wins over the environment
        data["adapters"] = sections
        return data

    @model_validator(mode="after")
    def _local_profile_fills_in_sandbox_secrets(self) -> Settings:
        if self.profile == "local":
            if self.intake.hmac_secret is None:
                self.intake.hmac_secret = SecretStr(LOCAL_SECRETS["intake.hmac_secret"])
            if self.rooms.reference_secret is None:
                self.rooms.reference_secret = SecretStr(LOCAL_SECRETS["rooms.reference_secret"])
        return self

    @model_validator(mode="after")
    def _adapters_are_registered(self) -> Settings:
        from hub.services import catalog

        for port in self.ports_in_use():
            try:
                catalog().adapter(port, getattr(self, port))
            except LookupError as exc:  # a ValidationError naming HUB_<PORT> and the known adapters
                raise ValueError(str(exc)) from exc
        return self

    @model_validator(mode="after")
    def _production_is_complete(self) -> Settings:
        if self.profile == "production" and (problems := self.problems()):
            raise ValueError("the production profile refuses to start until these settings are fixed:\n  - "
                             + "\n  - ".join(problems))
        return self

    def ports_in_use(self) -> tuple[str, ...]:
        from hub.services import PORTS

        return PORTS

    def adapter_config(self, name: str) -> Any:
        """The configuration of adapter ``name``: its section validated by the adapter's config
        class, on the local profile's defaults when that is the profile."""
        from hub.services import catalog

        adapter = catalog().adapter_named(name)
        section = self.adapters.get(name, {})
        if name == "maildir" and "path" not in section:  # the older name, then <home>/mail
            section = {**section, "path": self.rooms.reply_maildir or self.home / "mail"}
        base = adapter.local_defaults() if self.profile == "local" else {}
        return adapter.config_class.model_validate(_merged(base, section))

    def problems(self) -> list[str]:
        """Every setting the hub needs that is missing, invalid or still a sandbox value; each
        names its variable (empty: all good)."""
        from hub.services import catalog

        found: list[str] = []
        sandbox = set(LOCAL_SECRETS.values())
        for adapter in catalog().adapters:
            sandbox |= {v for k, v in _flat(adapter.local_defaults()).items() if isinstance(v, str) and _secret_name(k)}
        for port in self.ports_in_use():
            name = getattr(self, port)
            try:
                config = self.adapter_config(name)
            except ValidationError as exc:
                for error in exc.errors():
                    where = "__".join(str(p).upper() for p in error["loc"]) or "*"
                    found.append(f"HUB_{name.upper()}__{where} ({port}): {error['msg']}")
                continue
            except LookupError as exc:
                found.append(f"HUB_{port.upper()}: {exc}")
                continue
            for key, value in _flat(config.model_dump()).items():
                secret = value.get_secret_value() if isinstance(value, SecretStr) else value
                if isinstance(secret, str) and secret and secret in sandbox:
                    found.append(f"HUB_{name.upper()}__{key.upper()} ({port}) is the sandbox's public value")
        intake = [s for s in self.intake.active_secrets()]
        if not intake:
            found.append("HUB_INTAKE__HMAC_SECRET (or HUB_INTAKE__HMAC_SECRETS): missing; HR signs its events with it")
        elif any(s in sandbox for s in intake):
            found.append("HUB_INTAKE__HMAC_SECRET(S) is the sandbox's public secret")
        rooms = self.rooms.reference_secret
        if rooms is None or not rooms.get_secret_value():
            found.append("HUB_ROOMS__REFERENCE_SECRET: missing; it signs the group-room booking references")
        elif rooms.get_secret_value() in sandbox:
            found.append("HUB_ROOMS__REFERENCE_SECRET is the sandbox's public secret")
        return found

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def ledger(self) -> str:
        return self.ledger_url or f"sqlite:///{self.home / 'ledger.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def _secret_name(key: str) -> bool:
    last = key.rsplit("__", 1)[-1]
    return any(w in last for w in ("password", "secret", "token", "api_key")) and not last.endswith(("_file", "_url"))


def _flat(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}__"))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _merged(base: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in given.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out
