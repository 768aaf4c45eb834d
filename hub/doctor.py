"""``hub doctor``: is the hub configured and connected? Each problem comes with what to do."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import httpx

__all__ = ["Check", "run_checks"]


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _settings_check() -> tuple[Check, object | None]:
    from pydantic import ValidationError

    from hub.settings import Settings

    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") if not e["loc"] else
                             "HUB_" + "__".join(str(p).upper() for p in e["loc"]) for e in exc.errors())
        return Check("settings", False, f"invalid: {problems}", "Correct those HUB_* variables "
                     "(docs/production.md lists them; hub/settings.py describes each field)."), None
    return Check("settings", True, f"profile {settings.profile}; HUB_* settings are valid"), settings


def _config_checks(settings: object) -> list[Check]:
    from pydantic import SecretStr, ValidationError

    from hub.config import ConnectorConfig

    checks = []
    for port in settings.ports_in_use():  # type: ignore[attr-defined]
        name = getattr(settings, port)
        try:
            config = settings.adapter_config(name)  # type: ignore[attr-defined]
        except ValidationError as exc:
            wrong = ", ".join(f"HUB_{name.upper()}__" + "__".join(str(p).upper() for p in e["loc"])
                              for e in exc.errors())
            checks.append(Check(f"config {name}", False, f"invalid: {wrong}",
                                f"Set those variables for the {port} adapter ({name})."))
            continue
        if not isinstance(config, ConnectorConfig):
            checks.append(Check(f"config {name}", True, f"{port}: {type(config).__name__}"))
            continue
        empty = [f for f, v in config if isinstance(v, SecretStr) and not v.get_secret_value()]
        url_ok = config.base_url.startswith(("http://", "https://", "smtp://", "smtps://"))
        token_file = getattr(config, "token_file", None)
        token_missing = (getattr(config, "token", "") is None and token_file is not None
                         and not token_file.exists())
        ok = url_ok and not empty and not token_missing
        problems = [p for p in (
            None if url_ok else f"base_url {config.base_url!r} is not a URL",
            f"empty secret(s): {', '.join(empty)}" if empty else None,
            f"token file {token_file} is missing" if token_missing else None) if p]
        checks.append(Check(f"config {name}", ok, "; ".join(problems) or f"{config.base_url} (secrets set)",
                            f"Set HUB_{name.upper()}__BASE_URL and its credentials"
                            + (" (the RT token file is written when the stack creates RT)" if token_missing else "")
                            + "."))
    return checks


def _ledger_check(settings: object) -> Check:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine

    from hub.ledger.migrate import alembic_config

    url = settings.ledger  # type: ignore[attr-defined]
    try:
        head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
        engine = create_engine(url)
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        engine.dispose()
    except Exception as exc:
        return Check("ledger", False, f"cannot open {url.split('@')[-1]}: {exc.__class__.__name__}",
                     "Check HUB_LEDGER_URL and that the database server is running.")
    if current != head:
        return Check("ledger", False, f"schema at {current}, code expects {head}",
                     "Start the hub (it migrates on start) or run Alembic upgrade with hub.ledger.migrate.")
    return Check("ledger", True, f"schema at {head}")


async def _prefect_checks(api: str) -> list[Check]:
    from hub.services import catalog

    try:
        async with httpx.AsyncClient(timeout=5) as client:
            health = await client.get(f"{api}/health")
            found = await client.post(f"{api}/deployments/filter", json={"limit": 200})
    except httpx.HTTPError as exc:
        return [Check("prefect", False, f"{api} unreachable ({exc.__class__.__name__})",
                      "Start the stack (scripts/demo.sh) or set HUB_PREFECT_API_URL.")]
    checks = [Check("prefect", health.status_code == 200, f"{api}: HTTP {health.status_code}",
                    "Look at the Prefect server's log (var/logs/prefect-server.log).")]
    have = {d["name"] for d in found.json()} if found.status_code == 200 else set()
    deployments = catalog().deployments()
    missing = [s.name for s in deployments if s.name not in have]
    checks.append(Check("deployments", not missing,
                        f"missing: {', '.join(missing)}" if missing else f"all {len(deployments)} registered",
                        "Start the runner: python -m deployments (scripts/demo.sh does)."))
    return checks


async def run_checks(progress: Callable[[str], None] = lambda _: None) -> list[Check]:
    progress("settings")
    first, settings = _settings_check()
    if settings is None:
        return [first]
    checks = [first, *_config_checks(settings)]
    progress("ledger")
    checks.append(await asyncio.to_thread(_ledger_check, settings))
    progress("Prefect")
    checks += await _prefect_checks(settings.prefect_api_url)  # type: ignore[attr-defined]
    progress("intake")
    intake = settings.intake  # type: ignore[attr-defined]
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            answer = await client.get(f"http://{intake.host}:{intake.port}/health")
        checks.append(Check("intake", answer.status_code == 200, f"HTTP {answer.status_code}: {answer.text[:80]}",
                            "See var/logs/intake.log."))
    except httpx.HTTPError as exc:
        checks.append(Check("intake", False, f"unreachable ({exc.__class__.__name__})",
                            "Start the hub (scripts/demo.sh) or check HUB_INTAKE__PORT."))
    progress("connectors")
    from hub.health import check_all

    for name, health in (await check_all()).items():
        if name == "prefect":
            continue
        adapter = str(getattr(settings, name, name))  # port → adapter: hr → dfo, ticketing → rt, ...
        checks.append(Check(f"connect {name} ({adapter})", health.ok,
                            f"{health.detail[:100]} ({health.latency_ms:.0f} ms)",
                            f"Check that {adapter} is up and that HUB_{adapter.upper()}__BASE_URL and its "
                            "credentials are right."))
    return checks
