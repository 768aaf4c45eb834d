"""Where the control token comes from: ``--control-token``, else ``$HUB_SANDBOX_TOKEN``, else
a random one the sandbox keeps in ``<data-dir>/control-token`` (0600); the stack keeps one per
home; clients (the ``submit`` CLI among them) find the running demo's."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import httpx
import pytest

import sandbox.common
from devtools.stack import Stack
from sandbox.common import TOKEN_ENV, TOKEN_HEADER, MissingControlToken, control_headers, find_control_token
from sandbox.nettskjema.process import start_nettskjema_sandbox
from sandbox.procs import Proc, free_port, python_module, start, wait_http


def serve_topdesk(data_dir: Path, log_dir: Path, *args: str, env_token: str = "") -> Proc:
    port = free_port()
    proc = start(f"topdesk-token-{port}", python_module("sandbox.topdesk", "--port", str(port), "--data-dir",
                                                         str(data_dir), *args),
                 log_dir=log_dir, url=f"http://127.0.0.1:{port}", env={TOKEN_ENV: env_token})
    wait_http(f"{proc.url}/_sandbox/health", 30, proc=proc)
    return proc


def health(proc: Proc, token: str | None) -> int:
    headers = {TOKEN_HEADER: token} if token is not None else {}
    return httpx.get(f"{proc.url}/_sandbox/health", headers=headers, timeout=5).status_code


def test_a_sandbox_given_no_token_makes_one_and_keeps_it(tmp_path: Path) -> None:
    data, logs = tmp_path / "data", tmp_path / "logs"
    proc = serve_topdesk(data, logs)
    try:
        kept = data / "control-token"
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
        token = kept.read_text().strip()
        assert len(token) >= 32
        assert str(kept.resolve()) in proc.tail()  # it says where the token is
        assert (health(proc, None), health(proc, "wrong"), health(proc, token)) == (401, 401, 200)
    finally:
        proc.stop()
    again = serve_topdesk(data, logs)
    try:
        assert kept.read_text().strip() == token and health(again, token) == 200  # same token after a restart
    finally:
        again.stop()


def test_the_option_wins_over_the_environment(tmp_path: Path) -> None:
    proc = serve_topdesk(tmp_path / "data", tmp_path / "logs", "--control-token", "from-the-option",
                         env_token="from-the-environment")
    try:
        assert (health(proc, "from-the-option"), health(proc, "from-the-environment")) == (200, 401)
        assert not (tmp_path / "data" / "control-token").exists()  # a given token is not written down
    finally:
        proc.stop()


def test_the_stack_keeps_one_token_per_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    first = Stack(home=tmp_path / "home")
    token = first.sandbox_token
    kept = tmp_path / "home" / "sandbox" / "control-token"
    assert kept.read_text().strip() == token and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert first.env()[TOKEN_ENV] == token  # every process of the stack gets it
    assert Stack(home=tmp_path / "home").sandbox_token == token  # a restarted demo keeps it
    assert Stack(home=tmp_path / "other").sandbox_token != token
    monkeypatch.setenv(TOKEN_ENV, "exported")
    assert Stack(home=tmp_path / "home").sandbox_token == "exported" == kept.read_text().strip()


def test_clients_find_the_token_or_say_how_to_give_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    monkeypatch.delenv("HUB_HOME", raising=False)
    monkeypatch.setattr(sandbox.common, "_ROOT", tmp_path / "repo")
    monkeypatch.chdir(tmp_path)
    assert find_control_token("nettskjema") is None
    with pytest.raises(MissingControlToken, match="--control-token.*HUB_SANDBOX_TOKEN.*var/sandbox/control-token"):
        control_headers()
    lone = tmp_path / "var" / "sandbox" / "nettskjema" / "control-token"
    lone.parent.mkdir(parents=True)
    lone.write_text("lone-sandbox\n")
    assert control_headers(sandbox="nettskjema") == {TOKEN_HEADER: "lone-sandbox"}
    stack_file = tmp_path / "repo" / "var" / "sandbox" / "control-token"
    stack_file.parent.mkdir(parents=True)
    stack_file.write_text("the-demo\n")
    assert find_control_token("nettskjema") == ("the-demo", str(stack_file))  # the stack's file first
    home = tmp_path / "home"
    (home / "sandbox").mkdir(parents=True)
    (home / "sandbox" / "control-token").write_text("this-home\n")
    monkeypatch.setenv("HUB_HOME", str(home))
    assert control_headers() == {TOKEN_HEADER: "this-home"}
    monkeypatch.setenv(TOKEN_ENV, "exported")
    assert control_headers() == {TOKEN_HEADER: "exported"}
    assert control_headers("given") == {TOKEN_HEADER: "given"}


def test_the_submit_cli_uses_the_stacks_token_and_says_how_to_give_it(tmp_path: Path) -> None:
    proc = start_nettskjema_sandbox(tmp_path / "data", tmp_path / "logs", control_token="the-demo-token")
    home = tmp_path / "home"
    (home / "sandbox").mkdir(parents=True)
    (home / "sandbox" / "control-token").write_text("the-demo-token\n")
    env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV} | {"HUB_HOME": str(home)}
    submit = python_module("sandbox.nettskjema", "submit", "--url", proc.url, "--form", "laptop",
                           "feide=kari@oslomet.no", "model=macbook-air-13")
    try:
        found = subprocess.run(submit, capture_output=True, text=True, timeout=30, env=env)
        assert found.returncode == 0, found.stderr
        assert int(found.stdout.split()[0]) > 0  # the new submission id
        wrong = subprocess.run([*submit, "--control-token", "wrong"], capture_output=True, text=True, timeout=30,
                               env=env)
        assert wrong.returncode == 2 and "--control-token" in wrong.stderr and "401" in wrong.stderr
    finally:
        proc.stop()
