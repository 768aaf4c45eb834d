"""The scripted RT instance itself: isolation, loopback only, mail to a file, the CLI."""

from __future__ import annotations

import json
import stat
import subprocess
import uuid
from pathlib import Path

import pytest

from sandbox.procs import python_module
from sandbox.rt import RtInstance, create, load
from sandbox.rt.install import non_loopback_listeners
from sandbox.rt.instance import template_dir
from tests.connectors.rt.helpers import RtDirect

pytestmark = pytest.mark.rt


def test_instance_keeps_secrets_private_and_config_local(rt_instance: RtInstance) -> None:
    for secret in ("hub-token", "root-password"):
        mode = stat.S_IMODE((rt_instance.dir / secret).stat().st_mode)
        assert mode == 0o600, f"{secret} is {oct(mode)}"
    site = (rt_instance.dir / "RT_SiteConfig.pm").read_text()
    assert f"Set($WebBaseURL, 'http://127.0.0.1:{rt_instance.port}');" in site
    assert f"Set($DatabaseName, '{rt_instance.dir}/rtdb');" in site
    assert list((rt_instance.dir / "RT_SiteConfig.d").iterdir()) == []
    assert rt_instance.log_path.exists()


def test_server_listens_on_loopback_only(rt_instance: RtInstance) -> None:
    assert all(port != rt_instance.port for _, port in non_loopback_listeners())


def test_outgoing_mail_goes_to_a_file(rt_instance: RtInstance, rt_direct: RtDirect) -> None:
    requestor = f"mail.{uuid.uuid4().hex[:8]}@oslomet.test"
    rt_direct.create_ticket({"Queue": "User accounts", "Subject": "mail check", "Requestor": requestor,
                             "Content": "hei", "ContentType": "text/plain"})
    boxes = list(rt_instance.mail_dir.glob("*.mbox"))
    assert boxes, "RT's autoreply should have been written to an mbox file"
    assert any(requestor in box.read_text(errors="replace") for box in boxes)


def test_new_instances_copy_the_template_and_can_move_port(tmp_path: Path, rt_instance: RtInstance) -> None:
    instance = create(tmp_path / "copy", 18999)
    meta = json.loads((instance.dir / "instance.json").read_text())
    assert meta["source"] == template_dir().name
    assert instance.token.get_secret_value() == rt_instance.token.get_secret_value()
    moved = load(instance.dir, 19001)
    assert moved.port == 19001
    assert "Set($WebPort, 19001);" in (instance.dir / "RT_SiteConfig.pm").read_text()


def test_cli_create_and_token(tmp_path: Path) -> None:
    directory = tmp_path / "cli"
    created = subprocess.run(python_module("sandbox.rt", "create", "--dir", str(directory), "--port", "18998"),
                             capture_output=True, text=True, check=True, timeout=120)
    info = json.loads(created.stdout)
    assert info["base_url"] == "http://127.0.0.1:18998"
    assert info["token_file"] == str(directory.resolve() / "hub-token")
    token = subprocess.run(python_module("sandbox.rt", "token", "--dir", str(directory)),
                           capture_output=True, text=True, check=True, timeout=60)
    assert token.stdout.strip() == (directory / "hub-token").read_text().strip()
    again = subprocess.run(python_module("sandbox.rt", "create", "--dir", str(directory)),
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 1 and "already holds an RT instance" in again.stderr
