"""Contract harness for Maildir (inbox): a real Maildir, filled by the SMTP sink.

Not HTTP and not a network peer (capability ``LOCAL``): there are no status codes to
inject and no peer to be unreachable; its "wrong credentials" is a path that is a file, not
a Maildir (a ConfigError). Reading is read-only, so there is nothing to write twice, and
nothing is paged or looked up by id.
"""

from __future__ import annotations

import smtplib
from pathlib import Path
from typing import Any

from connectors.maildir import MaildirConfig
from sandbox.smtp.process import start_smtp_sandbox
from tests.contract.harness import LOCAL, Harness, Peer


class MaildirHarness(Harness):
    capabilities = frozenset({LOCAL})

    def start(self, workdir: Path, log_dir: Path) -> Peer:
        proc = start_smtp_sandbox(workdir / "mail", log_dir)
        (workdir / "not-a-maildir").write_text("a file\n")
        config = MaildirConfig(path=Path(proc.extra["maildir"]))
        return Peer(config, [proc], {"url": proc.url})

    def bad_credentials(self, config: Any) -> Any:
        return config.model_copy(update={"path": Path(str(config.path)).parent / "not-a-maildir"})

    def fast(self, config: Any) -> Any:
        return config

    async def setup(self, client: Any, peer: Peer) -> None:
        host, port = peer.state["url"].removeprefix("smtp://").rsplit(":", 1)
        with smtplib.SMTP(host, int(port), timeout=10) as smtp:
            smtp.sendmail("kari@oslomet.no", ["avbestill+gr-1-abc@tjenesteplattform.oslomet.no"],
                          b"From: kari@oslomet.no\nTo: avbestill+gr-1-abc@tjenesteplattform.oslomet.no\n"
                          b"Subject: Re: Booking\nMessage-ID: <contract-maildir@hub.test>\n\nAvbestill.\n")

    async def probe(self, client: Any, peer: Peer) -> Any:
        messages = [m async for m in client.messages_since(None)]
        assert [m.message_id for m in messages] == ["<contract-maildir@hub.test>"]
        return messages


HARNESS = MaildirHarness()
