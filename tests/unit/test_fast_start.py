"""What a flow run's process is spared on its way to the first line of code (``deployments.serve``):
the ledger's database driver is imported by the fork server, and the settings Prefect hands
each run are worked out once per settings object.

Found with py-spy on a worker of the production shape: a run imported psycopg itself (~0.4 s),
and the worker dumped the whole settings tree twice per run (~0.25 s of its CPU)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from deployments.definitions import PRELOAD
from hub.ledger.store import driver_modules


@pytest.mark.parametrize("url,modules", [
    ("postgresql+psycopg://hub@127.0.0.1:5432/hub_ledger", ("sqlalchemy.dialects.postgresql.psycopg", "psycopg")),
    ("sqlite:////var/lib/hub/ledger.db", ("sqlalchemy.dialects.sqlite.pysqlite", "sqlite3.dbapi2")),
])
def test_the_ledger_names_the_modules_that_open_it(url: str, modules: tuple[str, ...]) -> None:
    assert driver_modules(url) == modules


def test_a_forked_run_finds_the_driver_and_prefects_run_time_modules_imported() -> None:
    """In a fresh interpreter: after importing what the fork server preloads, opening the
    ledger on PostgreSQL and Prefect's first task import nothing more of these."""
    preload = [*PRELOAD, *driver_modules("postgresql+psycopg://hub@127.0.0.1:1/x")]
    script = f"""
import sys
for name in {preload!r}:
    __import__(name)
before = set(sys.modules)
from hub.ledger.store import Ledger
Ledger("postgresql+psycopg://hub@127.0.0.1:1/x", migrate=False)  # no connection is made
import prefect.task_engine, prefect.utilities.visualization, anyio._backends._asyncio
late = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in ("psycopg", "prefect", "anyio", "sqlalchemy"))
print(late)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_settings_environment_is_worked_out_once_per_settings_object() -> None:
    from prefect.context import SettingsContext
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings
    from prefect.settings.models.root import Settings

    from deployments.serve import remember_run_settings

    original, serialize = Settings.to_environment_variables, SettingsContext.serialize
    calls: list[int] = []
    try:
        def counted(self: Settings, **kwargs: bool) -> dict[str, str]:
            calls.append(id(self))
            return original(self, **kwargs)

        Settings.to_environment_variables = counted  # type: ignore[method-assign,assignment]
        remember_run_settings()
        remember_run_settings()  # idempotent: not wrapped twice
        settings = get_current_settings()
        first = settings.to_environment_variables(exclude_unset=True)
        assert first == original(settings, exclude_unset=True)
        first["PREFECT_API_URL"] = "changed by a caller"
        again = settings.to_environment_variables(exclude_unset=True)
        assert again.get("PREFECT_API_URL") != "changed by a caller", "each caller gets a copy"
        assert calls == [id(settings)], "worked out once"

        context = SettingsContext.get()
        assert context is not None
        dumped = context.serialize()
        assert dumped == serialize(context)
        dumped["settings"]["changed"] = "by a caller"
        assert context.serialize() == serialize(context), "each caller gets a copy"

        with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:9/api"}):
            other = get_current_settings().to_environment_variables(exclude_unset=True)
            inner = SettingsContext.get()
            assert inner is not None and inner.serialize()["settings"]["api"]["url"] == "http://127.0.0.1:9/api"
        assert other["PREFECT_API_URL"] == "http://127.0.0.1:9/api", "new settings, new answer"
        assert settings.to_environment_variables(exclude_unset=False) == original(settings, exclude_unset=False)
    finally:
        Settings.to_environment_variables = original  # type: ignore[method-assign]
        SettingsContext.serialize = serialize  # type: ignore[method-assign]
