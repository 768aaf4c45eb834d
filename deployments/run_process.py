"""What every flow run's process would build for itself, built once in the fork server.

A run's process (forked from the preloaded fork server, :mod:`deployments.serve`) built
Prefect's settings twice before it reported *Running*: ``Settings()`` from the environment
Prefect gives the run's process, and ``Settings(**...)`` again when it hydrates the settings
context serialised by the runner or worker. Each build reads the environment through ~100
settings sources: ~70 ms of CPU on an idle two-core host, 0.1-0.15 s on a busy one, and both
come out the same for every run of the same runner or worker. It then built the validators
of the Prefect API models it uses (Prefect defers building 255 of them to their first use):
~50 ms more per run.

:func:`remember_built_settings` keeps each ``Settings`` built in a process, keyed by all that
building it reads: the arguments, the environment (all of it, less Prefect's per-run
``PREFECT__*`` variables, which no setting reads), the working directory and the files
Prefect reads settings from (``.env``, ``prefect.toml``, ``pyproject.toml``, the profiles
file). A build with the same inputs gets a deep copy of the kept one; anything else is built
by Prefect as before. :func:`warm` does those builds in the fork server, under the
environment a run's process will have, so every run's process finds them (the fork server's
memory is copied into each run's process), and completes every deferred pydantic model there.
``deployments.fork_server_warmup`` calls it: the fork server only imports modules.
"""

from __future__ import annotations

import copy
import functools
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretBytes, SecretStr

__all__ = ["check_server_once", "complete_deferred_models", "remember_built_settings", "settings_key", "warm"]

_KEPT: dict[tuple[Any, ...], Any] = {}
_PER_RUN = "PREFECT__"  # Prefect's run-time variables (flow run id, control channel): not settings


class _NotKeyable(Exception):
    pass


def _canonical(value: Any) -> Any:
    """A hashable stand-in for a settings argument that differs whenever the argument does."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return (type(value).__name__, value)
    if isinstance(value, (SecretStr, SecretBytes)):  # their str() is masked: key on the secret itself
        return ("secret", value.get_secret_value())
    if isinstance(value, Path):
        return ("path", str(value))
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise _NotKeyable
        return ("dict", tuple(sorted((k, _canonical(v)) for k, v in value.items())))
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_canonical(v) for v in value))
    if isinstance(value, (set, frozenset)):
        return ("set", tuple(sorted((_canonical(v) for v in value), key=repr)))
    if isinstance(value, timedelta):
        return ("timedelta", value.days, value.seconds, value.microseconds)
    raise _NotKeyable


def _file(path: Path | str) -> tuple[str, int, int, int] | tuple[str]:
    try:
        st = os.stat(path)
    except OSError:
        return (str(path),)
    return (str(path), st.st_mtime_ns, st.st_size, st.st_ino)


def settings_key(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
    """Everything building Prefect's ``Settings`` reads, or ``None`` when an argument cannot be keyed."""
    from prefect.settings.sources import _get_profiles_path

    if args:
        return None
    try:
        given = _canonical(kwargs)
    except _NotKeyable:
        return None
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if not k.startswith(_PER_RUN)))
    files = tuple(_file(name) for name in (".env", "prefect.toml", "pyproject.toml", _get_profiles_path()))
    return (given, environment, os.getcwd(), files)


def remember_built_settings() -> None:
    """Keep every ``Settings`` this process builds; the same inputs again get a deep copy."""
    from prefect.settings.models.root import Settings

    build = Settings.__init__
    if getattr(build, "remembered", False):
        return

    def remembered(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            key = settings_key(args, kwargs)
        except Exception:  # noqa: BLE001 - a shortcut only: Prefect builds the settings as before
            key = None
        kept = _KEPT.get(key) if key is not None else None
        if kept is None:
            build(self, *args, **kwargs)
            if key is not None:
                if len(_KEPT) > 16:  # settings of temporary_settings() blocks
                    _KEPT.clear()
                _KEPT[key] = copy.deepcopy(self)
            return
        same = copy.deepcopy(kept)
        for state in ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__"):
            object.__setattr__(self, state, getattr(same, state))

    functools.update_wrapper(remembered, build)
    remembered.remembered = True  # type: ignore[attr-defined]
    Settings.__init__ = remembered  # type: ignore[method-assign,assignment]


def warm() -> None:
    """In the fork server: build what a run's process builds first, under its environment, and
    every pydantic model whose building was deferred.

    Prefect starts a run's process with the runner's or worker's environment over the settings
    it was given as variables (``run_flow_in_subprocess``); that environment is the fork
    server's own, which it inherited from that runner or worker."""
    from prefect.context import SettingsContext, get_settings_context
    from prefect.settings import get_current_settings
    from prefect.settings.models.root import Settings

    remember_built_settings()
    before = dict(os.environ)
    given = {k: v for k, v in get_current_settings().to_environment_variables(exclude_unset=True).items()
             if v is not None}
    try:
        os.environ.update(given | before)
        Settings()  # run_flow_in_subprocess: the settings of the run's process
        SettingsContext(**get_settings_context().serialize())  # hydrated_context: the runner's or worker's
    finally:
        os.environ.clear()
        os.environ.update(before)
    complete_deferred_models()
    check_server_once()


def check_server_once() -> bool:
    """Check the Prefect server's version here, once, as Prefect's clients do once per process.

    Prefect's HTTP client and its events and logs clients each ask ``GET /admin/version`` the
    first time they are used in a process, and remember the answer for the process. A run's
    process is a fork of the fork server, so a check done here is remembered in every run's
    process: in a burst of 30 fritak cases, 30 hires and 20 laptop orders the server answered
    210 version checks (~2 per run, on the way to its first line). The check is Prefect's own;
    an incompatible server still stops every run (RuntimeError, major versions differ). If the
    server does not answer now, nothing is remembered and each run checks as before. True when
    the check was made and remembered."""
    import asyncio
    import logging

    from prefect._internal.version_checking import check_server_version
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    api_url = PREFECT_API_URL.value()
    if not api_url:
        return False

    async def check() -> None:
        async with get_client() as client:  # the HTTP clients' key: their base URL
            await client.raise_for_api_version_mismatch_once()
        await check_server_version(api_url, logging.getLogger("hub.serve"))  # the events and logs clients'

    try:
        asyncio.run(check())
    except Exception:  # noqa: BLE001 - unreachable or incompatible: each run checks (and fails) itself
        return False
    return True


def complete_deferred_models() -> int:
    """Build every loaded pydantic model whose building was deferred; returns how many."""
    from pydantic import BaseModel

    models: set[type[BaseModel]] = set()
    todo: list[type[BaseModel]] = [BaseModel]
    while todo:
        for sub in todo.pop().__subclasses__():
            if sub not in models:
                models.add(sub)
                todo.append(sub)
    built = 0
    for model in models:
        if not getattr(model, "__pydantic_complete__", True):
            built += model.model_rebuild(raise_errors=False) is True
    return built
