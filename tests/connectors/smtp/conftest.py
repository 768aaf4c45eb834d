"""Fixtures: real SMTP sandbox subprocesses (open, and one requiring AUTH)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from connectors.smtp import SmtpConfig, SmtpMail
from sandbox.procs import Proc
from sandbox.smtp.process import start_smtp_sandbox

SENDER = "tjenesteplattform@oslomet.no"
LOGIN = "hub:s3cret-pass"


@pytest.fixture(scope="module")
def smtp_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_smtp_sandbox(tmp_path_factory.mktemp("maildir") / "Maildir",
                              tmp_path_factory.mktemp("logs"))
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def smtp_auth_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    proc = start_smtp_sandbox(tmp_path_factory.mktemp("maildir-auth") / "Maildir",
                              tmp_path_factory.mktemp("logs-auth"), auth=LOGIN)
    yield proc
    proc.stop()


@pytest.fixture
def maildir(smtp_sandbox: Proc) -> Path:
    return Path(smtp_sandbox.extra["maildir"])


@pytest.fixture
def make_mail(smtp_sandbox: Proc) -> Callable[..., SmtpMail]:
    """``make_mail(**overrides)`` → an SmtpMail on the open sandbox."""

    def make(**overrides: Any) -> SmtpMail:
        settings: dict[str, Any] = {"base_url": smtp_sandbox.url, "from_address": SENDER,
                                    "max_attempts": 3, "max_retry_seconds": 5.0, "timeout": 5.0}
        settings.update(overrides)
        return SmtpMail(SmtpConfig(**settings))

    return make
