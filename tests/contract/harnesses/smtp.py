"""Contract harness for SMTP (mail): the aiosmtpd sink, with authentication switched on.

Not HTTP: transient failures come from the sink itself (a greylisting recipient gets 451
once), and "no raw exception escapes" is checked against a closed port. Mail is delivered
at least once by nature (the hub guards each send in the ledger), so there is no
idempotent-write check; nothing is paged or looked up by id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import SecretStr

from connectors.smtp import SmtpConfig
from hub.ports.mail import OutgoingMail
from sandbox.smtp import find_message
from sandbox.smtp.process import start_smtp_sandbox
from tests.contract.harness import NATIVE_TRANSIENT, Harness, Peer


class SmtpHarness(Harness):
    capabilities = frozenset({NATIVE_TRANSIENT})

    def start(self, workdir: Path, log_dir: Path) -> Peer:
        proc = start_smtp_sandbox(workdir / "mail", log_dir, auth="hub:contract-smtp-password")
        config = SmtpConfig(base_url=proc.url, from_address="hub@oslomet.no", username=SecretStr("hub"),
                            password=SecretStr("contract-smtp-password"))
        return Peer(config, [proc], {"maildir": proc.extra["maildir"], "sent": 0})

    def bad_credentials(self, config: Any) -> Any:
        return config.model_copy(update={"password": SecretStr("wrong")})

    async def probe(self, client: Any, peer: Peer) -> Any:
        peer.state["sent"] += 1
        n = peer.state["sent"]
        return await client.send(OutgoingMail(to=("contract@oslomet.no",), subject=f"Contract probe {n}",
                                              body="Probe.", message_id=f"<contract-{n}@hub.test>"))

    async def transient(self, client: Any, peer: Peer) -> Any:
        message_id = await client.send(OutgoingMail(to=("greylist.contract@oslomet.no",), subject="Greylisted",
                                                    body="Deferred once, then delivered.",
                                                    message_id="<contract-greylist@hub.test>"))
        assert len(find_message(Path(peer.state["maildir"]), message_id)) == 1
        return message_id


HARNESS = SmtpHarness()
