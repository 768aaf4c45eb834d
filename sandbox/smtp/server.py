"""The SMTP sink: an aiosmtpd server on 127.0.0.1 that files every message in a Maildir."""

from __future__ import annotations

import asyncio
import email.parser
import email.policy
import hmac
import logging
import mailbox
import signal
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from hub.privacy import mask

__all__ = ["MaildirHandler", "make_authenticator", "serve"]

log = logging.getLogger("sandbox.smtp")

HOSTNAME = "smtp-sandbox.localhost"  # announced in the greeting; avoids a DNS lookup


class MaildirHandler:
    """aiosmtpd handler: RCPT rules for fault testing, DATA → one Maildir message.

    Recipient local parts steer the sink: ``reject*`` → ``550`` (permanent),
    ``tempfail*`` → ``451`` every time, ``greylist*`` → ``451`` the first time that address
    is seen, then accepted. Everything else is accepted.
    """

    def __init__(self, maildir: Path) -> None:
        for sub in ("tmp", "new", "cur"):  # Maildir(create=True) skips an existing directory
            (maildir / sub).mkdir(parents=True, exist_ok=True)
        self.maildir = mailbox.Maildir(maildir, create=False)
        self.greylisted: set[str] = set()

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return "550 5.1.1 Mailbox unavailable"
        if local.startswith("tempfail"):
            return "451 4.3.0 Temporary failure, try again later"
        if local.startswith("greylist") and address.lower() not in self.greylisted:
            self.greylisted.add(address.lower())
            return "451 4.7.1 Greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        if isinstance(content, str):  # pragma: no cover - decode_data is off
            content = content.encode("utf-8")
        trace = (f"Return-Path: <{envelope.mail_from}>\n"
                 f"Delivered-To: {', '.join(envelope.rcpt_tos)}\n").encode()
        content = content.replace(b"\r\n", b"\n")  # Maildir files use local (LF) line ends
        key = self.maildir.add(trace + content)
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(content)
        log.info("delivered to %s: %s", ", ".join(envelope.rcpt_tos),
                 mask(str(headers.get("Subject", ""))))
        return f"250 2.0.0 Ok: queued as {key}"


def make_authenticator(credentials: str) -> Any:
    """``user:password`` → an aiosmtpd authenticator accepting exactly that login."""
    user, _, password = credentials.partition(":")

    def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                     auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = (hmac.compare_digest(auth_data.login, user.encode("utf-8"))
              and hmac.compare_digest(auth_data.password, password.encode("utf-8")))
        return AuthResult(success=ok, handled=False)

    return authenticate


async def serve(port: int, maildir: Path, auth: str | None = None) -> None:
    """Listen on 127.0.0.1:``port`` until SIGTERM/SIGINT."""
    handler = MaildirHandler(maildir)
    options: dict[str, Any] = {"hostname": HOSTNAME, "ident": "OsloMet hub SMTP sandbox",
                               "enable_SMTPUTF8": True}
    if auth:
        options.update(authenticator=make_authenticator(auth), auth_required=True,
                       auth_require_tls=False)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler, **options), host="127.0.0.1", port=port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.warning("SMTP sandbox on 127.0.0.1:%d, Maildir %s%s", port, maildir,
                " (AUTH required)" if auth else "")
    await stop.wait()
    server.close()
    await server.wait_closed()
