"""What a flow run's process is spared on its way to the first line of code (``deployments.serve``,
``deployments.run_process``): the ledger's database driver is imported by the fork server, the
settings Prefect hands each run are worked out once per settings object, and the two settings
a run's process builds from them are built once, in the fork server.

Found with py-spy on a worker of the production shape: a run imported psycopg itself (~0.4 s),
the worker dumped the whole settings tree twice per run (~0.25 s of its CPU), and building
Prefect's settings was 38 % of a run's own CPU before its code (two builds of ~70 ms each on
an idle host)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


# ---- the settings a run's process builds (deployments.run_process) ---------------------------

_RUN_PROCESS_SCRIPT = """
import json, os, sys
import prefect.flow_engine
from prefect.settings.models.root import Settings

built = []
prefects_build = Settings.__init__
def counted(self, *args, **kwargs):
    built.append(os.getpid())
    prefects_build(self, *args, **kwargs)
Settings.__init__ = counted  # under the hub's memo: counts the builds Prefect really does

import pydantic
from deployments.definitions import PRELOAD
for name in PRELOAD:
    __import__(name)
def incomplete():
    models, todo = set(), [pydantic.BaseModel]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in models:
                models.add(sub); todo.append(sub)
    return sum(not getattr(m, "__pydantic_complete__", True) for m in models)
deferred = incomplete()
from deployments.run_process import warm
warm()
warmed = len(built)

# What run_flow_in_subprocess does, in the runner or worker and then in the run's process.
from prefect.context import SettingsContext, hydrated_context, serialize_context
from prefect.flow_engine import _runtime_subprocess_env
from prefect.settings import get_current_settings
merged = (get_current_settings().to_environment_variables(exclude_unset=True) | dict(os.environ)
          | {"PREFECT__ENABLE_CANCELLATION_AND_CRASHED_HOOKS": "false", "PREFECT__FLOW_RUN_ID": "run-1",
             "PREFECT__CONTROL_TOKEN": "t"})
context = serialize_context()
pid = os.fork()
if pid == 0:
    os.environ.update(_runtime_subprocess_env(merged))
    first = Settings()
    with hydrated_context(context):
        hydrated = SettingsContext.get().settings
    fresh = Settings.__new__(Settings)
    prefects_build(fresh)
    again = Settings.__new__(Settings)
    prefects_build(again, **context["settings_context"]["settings"])
    print(json.dumps({"warmed": warmed, "deferred": deferred, "left": incomplete(), "built_in_run": [p for p in built if p == os.getpid()],
                      "same_as_prefect": fresh.model_dump() == first.model_dump(),
                      "hydrated_same": again.model_dump() == hydrated.model_dump(),
                      "api": first.api.url}), flush=True)
    os._exit(0)
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_a_runs_process_builds_no_settings_of_its_own(tmp_path: Path) -> None:
    """In a fresh interpreter: after the fork server's warm-up, a forked run's process, given the
    environment Prefect gives it, gets both of its settings without building either, and they
    equal what Prefect would have built (without the warm-up: two builds of ~70 ms each). No
    pydantic model is left for it to build."""
    import json

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({"PREFECT_API_URL": "http://127.0.0.1:9/api", "PREFECT_HOME": str(tmp_path / "prefect"),
                "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30", "PREFECT_API_KEY": "secret-of-this-test"})
    done = subprocess.run([sys.executable, "-c", _RUN_PROCESS_SCRIPT], capture_output=True, text=True,
                          timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["warmed"] == 2, "the warm-up builds the two settings once"
    assert seen["deferred"] > 100 and seen["left"] == 0, "Prefect's deferred models are built by the warm-up"
    assert seen["built_in_run"] == [], "the run's process built settings of its own"
    assert seen["same_as_prefect"] and seen["hydrated_same"]
    assert seen["api"] == "http://127.0.0.1:9/api"


def test_the_settings_key_holds_everything_a_build_reads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from pydantic import SecretStr

    from deployments.run_process import settings_key

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:9/api")
    key = settings_key((), {})
    assert key is not None and settings_key((), {}) == key
    monkeypatch.setenv("PREFECT__FLOW_RUN_ID", "another run")  # Prefect's per-run variables are no setting
    assert settings_key((), {}) == key
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:10/api")
    assert settings_key((), {}) != key, "a setting in the environment"
    key = settings_key((), {})
    monkeypatch.setenv("HOME", str(tmp_path))  # ~ in PREFECT_HOME
    assert settings_key((), {}) != key, "any other variable too"
    key = settings_key((), {})
    (tmp_path / "prefect.toml").write_text('[api]\nurl = "http://127.0.0.1:11/api"\n')
    assert settings_key((), {}) != key, "a settings file in the working directory"
    assert settings_key((), {"api": {"key": SecretStr("a")}}) != settings_key((), {"api": {"key": SecretStr("b")}})
    assert settings_key((), {"tasks": {"default_retry_delay_seconds": {1, 2}}}) is not None
    assert settings_key(("positional",), {}) is None
    assert settings_key((), {"api": object()}) is None, "what cannot be keyed is built by Prefect"


def test_a_remembered_build_is_a_copy_and_new_inputs_build_anew() -> None:
    script = """
import os
from deployments.run_process import remember_built_settings
from prefect.settings.models.root import Settings
remember_built_settings(); remember_built_settings()
a, b = Settings(), Settings()
assert a == b and a is not b and a.api is not b.api, "a copy each time"
os.environ["PREFECT_API_URL"] = "http://127.0.0.1:12/api"
assert Settings().api.url == "http://127.0.0.1:12/api", "new environment, new build"
assert Settings(api={"url": "http://127.0.0.1:13/api"}).api.url == "http://127.0.0.1:13/api"
import deployments.run_process as run_process
def moved(*args):
    raise ImportError("a Prefect upgrade moved what the key reads")
run_process.settings_key = moved
assert Settings().api.url == "http://127.0.0.1:12/api", "without a key Prefect builds them as before"
print("ok")
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


_VERSION_CHECK_SCRIPT = """
import asyncio, json, logging, os, sys, urllib.request
from prefect._internal.version_checking import check_server_version
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL
from deployments.run_process import check_server_once

def asked():
    return int(urllib.request.urlopen(os.environ["COUNT_URL"]).read())

checked = check_server_once() if sys.argv[1] == "warm" else None
before_fork = asked()
pid = os.fork()
if pid == 0:  # a run's process: its HTTP client and its events client, first use
    async def first_use():
        async with get_client() as client:
            await client.raise_for_api_version_mismatch_once()
        await check_server_version(PREFECT_API_URL.value(), logging.getLogger("test"))
    asyncio.run(first_use())
    os._exit(0)
os.waitpid(pid, 0)
print(json.dumps({"checked": checked, "before_fork": before_fork, "in_the_run": asked() - before_fork}))
"""


@pytest.mark.parametrize("mode", ["warm", "cold"])
def test_a_runs_process_asks_no_version_check_the_fork_server_made(tmp_path: Path, mode: str) -> None:
    """The fork server checks the server's version once (``check_server_once``, in its warm-up);
    a run's process forked from it asks ``GET /admin/version`` no more. Without the warm-up
    ("cold") the same run's process asks for itself: the count below would catch a check that
    no longer reaches the run's process."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import prefect

    hits: list[str] = []

    class Prefectish(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            if self.path == "/count":
                body = str(len(hits)).encode()
            elif self.path == "/api/admin/version":
                hits.append(self.path)
                body = json.dumps(prefect.__version__).encode()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Prefectish)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
        env.update({"PREFECT_API_URL": f"{base}/api", "PREFECT_HOME": str(tmp_path / "prefect"),
                    "COUNT_URL": f"{base}/count"})
        done = subprocess.run([sys.executable, "-c", _VERSION_CHECK_SCRIPT, mode], capture_output=True, text=True,
                              timeout=120, env=env, cwd=Path(__file__).resolve().parents[2])
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    if mode == "warm":
        assert seen["checked"] is True and seen["before_fork"] >= 1
        assert seen["in_the_run"] == 0
    else:
        assert seen["before_fork"] == 0 and seen["in_the_run"] >= 1
