"""The hub's settings: environment variables with the ``HUB_`` prefix.

Nested values use ``__``: ``HUB_RT__BASE_URL``, ``HUB_DFO__API_KEY``. Every default is an
*embedded default* for the local stack (sandboxes and servers on 127.0.0.1), so the demo
runs with no configuration at all; production sets real URLs and secrets. Secrets are
``SecretStr`` and never printed (``hub doctor`` shows them as ``**********``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from connectors.caldav.config import CaldavConfig
from connectors.dfo.config import DfoConfig
from connectors.maildir.config import MaildirConfig
from connectors.n5ws.config import N5wsConfig
from connectors.nettskjema.config import NettskjemaConfig
from connectors.rt.config import RtConfig
from connectors.smtp.config import SmtpConfig
from connectors.topdesk.config import TopdeskConfig
from hub.procs import ROOT

__all__ = ["Settings", "IntakeConfig", "OnboardingConfig", "FritakConfig", "LaptopConfig", "RoomsConfig", "PORTS", "get_settings", "OSLO"]

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
    "smtp": 8725,
}


# Embedded defaults: the local sandboxes and servers the demo stack starts.
_CONNECTOR_DEFAULTS: dict[str, Callable[[], BaseModel]] = {
    "dfo": lambda: DfoConfig(base_url=f"http://127.0.0.1:{PORTS['dfo']}/api", api_key=SecretStr("sandbox-dfo-key")),
    "n5ws": lambda: N5wsConfig(base_url=f"http://127.0.0.1:{PORTS['noark5']}/noark5v5", username="hub",
                               password=SecretStr("sandbox-n5ws-password")),
    "rt": lambda: RtConfig(base_url=f"http://127.0.0.1:{PORTS['rt']}", token_file=ROOT / "var" / "rt" / "hub-token"),
    "nettskjema": lambda: NettskjemaConfig(
        base_url=f"http://127.0.0.1:{PORTS['nettskjema']}/api/v3",
        token_url=f"http://127.0.0.1:{PORTS['nettskjema']}/oauth2/token", client_id="hub-client",
        client_secret=SecretStr("sandbox-nettskjema-secret")),
    "topdesk": lambda: TopdeskConfig(base_url=f"http://127.0.0.1:{PORTS['topdesk']}/tas/api", username="hub",
                                     app_password=SecretStr("sandbox-topdesk-app-password")),
    "smtp": lambda: SmtpConfig(base_url=f"smtp://127.0.0.1:{PORTS['smtp']}",
                               from_address="tjenesteplattform@oslomet.no"),
    "caldav": lambda: CaldavConfig(base_url=f"http://127.0.0.1:{PORTS['radicale']}", username="hub",
                                   password=SecretStr("sandbox-caldav-password")),
}


class IntakeConfig(BaseModel):
    host: str = Field("127.0.0.1", description="Interface the intake receiver listens on.")
    port: int = Field(PORTS["intake"], description="Port of the intake receiver.")
    hmac_secret: SecretStr = Field(SecretStr("sandbox-hmac-secret"),
                                   description="Secret HR signs its events with (Standard Webhooks: "
                                               "whsec_<base64>, or a plain string used as the key). "
                                               "Ignored when hmac_secrets is set.")
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

        chosen = [s.get_secret_value() for s in (self.hmac_secrets or [self.hmac_secret])]
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
    reference_secret: SecretStr = Field(SecretStr("sandbox-rooms-reference-secret"),
                                        description="Key of the HMAC token in booking references (gr-<id>-<token>).")
    cancel_mailbox: str = Field("avbestill", description="Local part of the cancel address; confirmations "
                                "reply to <mailbox>+<reference>@<cancel_domain>.")
    cancel_domain: str = Field("tjenesteplattform.oslomet.no", description="Domain of the cancel address.")
    reply_maildir: Path | None = Field(None, description="Maildir where replies to the cancel address arrive "
                                       "(the maildir inbox's path when HUB_MAILDIR__PATH is unset); "
                                       "default <home>/mail (the local SMTP sink's).")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="HUB_", env_nested_delimiter="__",
                                      extra="ignore", validate_default=True)

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

    dfo: DfoConfig = Field(default_factory=lambda: _CONNECTOR_DEFAULTS["dfo"]())
    n5ws: N5wsConfig = Field(default_factory=lambda: _CONNECTOR_DEFAULTS["n5ws"]())
    rt: RtConfig = Field(default_factory=lambda: _CONNECTOR_DEFAULTS["rt"]())
    smtp: SmtpConfig = Field(default_factory=lambda: _CONNECTOR_DEFAULTS["smtp"]())
    nettskjema: NettskjemaConfig = Field(default_factory=lambda: _CONNECTOR_DEFAULTS["nettskjema"]())
    caldav: CaldavConfig = Field(default_factory=lambda: _CONNECTOR_DEFAULTS["caldav"]())
    topdesk: TopdeskConfig = Field(default_factory=lambda: _CONNECTOR_DEFAULTS["topdesk"]())
    maildir: MaildirConfig = Field(default_factory=MaildirConfig)

    @model_validator(mode="after")
    def _adapters_are_registered(self) -> Settings:
        from connectors.registry import PORTS as PORT_NAMES
        from connectors.registry import adapter

        for port in PORT_NAMES:
            try:
                adapter(port, getattr(self, port))
            except LookupError as exc:  # a ValidationError naming HUB_<PORT> and the known adapters
                raise ValueError(str(exc)) from exc
        return self

    @model_validator(mode="after")
    def _maildir_defaults_to_the_rooms_reply_maildir(self) -> Settings:
        """``HUB_ROOMS__REPLY_MAILDIR`` (the older name) still chooses the Maildir; else <home>/mail."""
        if self.maildir.path is None:
            self.maildir = self.maildir.model_copy(update={"path": self.rooms.reply_maildir or self.home / "mail"})
        return self

    @model_validator(mode="before")
    @classmethod
    def _merge_connector_defaults(cls, data: Any) -> Any:
        """``HUB_RT__BASE_URL=...`` alone keeps the other RT defaults (token file, queues...)."""
        if not isinstance(data, dict):
            return data
        for name, factory in _CONNECTOR_DEFAULTS.items():
            given = data.get(name)
            if isinstance(given, dict):
                data[name] = {**factory().model_dump(exclude_unset=False), **given}
        return data

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def ledger(self) -> str:
        return self.ledger_url or f"sqlite:///{self.home / 'ledger.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
