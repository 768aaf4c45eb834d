"""SMTP mail connector: implements :class:`hub.ports.mail.MailPort` with stdlib ``smtplib``.

Each send opens one connection in a worker thread (``asyncio.to_thread``), so the event
loop never blocks. Errors, translated to :mod:`hub.errors`::

    connect refused / timeout / disconnect, 4xx reply   → TransientError (retried, bounded)
    535/530 and other AUTH failures, STARTTLS missing   → ConfigError
    5xx for MAIL FROM                                   → ConfigError (fix from_address)
    5xx for a recipient                                 → InvalidInput (others still get it)
    5xx for DATA                                        → InvalidInput
    fødselsnummer in subject/body                       → InvalidInput, nothing sent

Retries re-send only to recipients that were deferred (4xx), so nobody gets it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import smtplib
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
)

from connectors.smtp.config import SmtpConfig
from connectors.smtp.message import build_message
from hub.errors import ConfigError, HubError, InvalidInput, PermanentError, TransientError
from hub.ports.common import Health, HealthProbe
from hub.ports.mail import OutgoingMail

__all__ = ["SmtpMail", "translate_smtp_error", "SYSTEM"]

log = logging.getLogger("connectors.smtp")

SYSTEM = "smtp"
Refused = dict[str, tuple[int, bytes]]
T = TypeVar("T")


def _reply(code: int, text: bytes | str) -> str:
    body = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {body}".strip()


def translate_smtp_error(exc: BaseException) -> HubError:
    """Map an smtplib/socket/ssl exception to the hub's error tree."""
    if isinstance(exc, HubError):
        return exc
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ConfigError(f"the SMTP server refused the login: {_reply(exc.smtp_code, exc.smtp_error)}",
                           system=SYSTEM, hint="Check HUB_SMTP__USERNAME and HUB_SMTP__PASSWORD.")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return ConfigError(f"the SMTP server does not support this: {exc}", system=SYSTEM,
                           hint="Check HUB_SMTP__STARTTLS and the credentials against what the server offers.")
    if isinstance(exc, smtplib.SMTPResponseException) and 400 <= exc.smtp_code < 500:
        return TransientError(f"the SMTP server deferred: {_reply(exc.smtp_code, exc.smtp_error)}",
                              system=SYSTEM)
    if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 530:
        return ConfigError(f"the SMTP server requires authentication: {_reply(exc.smtp_code, exc.smtp_error)}",
                           system=SYSTEM, hint="Set HUB_SMTP__USERNAME and HUB_SMTP__PASSWORD.")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return ConfigError(f"the SMTP server refused sender {exc.sender}: "
                           f"{_reply(exc.smtp_code, exc.smtp_error)}", system=SYSTEM,
                           hint="Check HUB_SMTP__FROM_ADDRESS; the server must accept it as sender.")
    if isinstance(exc, smtplib.SMTPDataError):
        return InvalidInput(f"the SMTP server refused the message: {_reply(exc.smtp_code, exc.smtp_error)}",
                            system=SYSTEM, hint="The message was rejected as it is (size, content); "
                                                "fix it, then replay.")
    if isinstance(exc, smtplib.SMTPResponseException):
        return PermanentError(f"the SMTP server answered {_reply(exc.smtp_code, exc.smtp_error)}",
                              system=SYSTEM, hint="See the mail server's log for the reason.")
    if isinstance(exc, ssl.SSLError):
        return ConfigError(f"TLS with the SMTP server failed: {exc.__class__.__name__}", system=SYSTEM,
                           hint="Check the smtp/smtps scheme, port and HUB_SMTP__STARTTLS.")
    if isinstance(exc, OSError):  # includes SMTPServerDisconnected, timeouts, refused connections
        return TransientError(f"cannot reach the SMTP server: {exc.__class__.__name__}: {exc}",
                              system=SYSTEM,
                              hint="Check that the mail server runs and HUB_SMTP__BASE_URL is right; "
                                   "the hub retries by itself.")
    return PermanentError(f"unexpected {exc.__class__.__name__}: {exc}", system=SYSTEM)


class SmtpMail:
    """E-mail over SMTP as a :class:`~hub.ports.mail.MailPort`."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self.policy = config.policy()

    async def __aenter__(self) -> SmtpMail:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Nothing to release: every send uses its own connection."""

    def build(self, mail: OutgoingMail) -> EmailMessage:
        """The message :meth:`send` would send (privacy-checked)."""
        return build_message(mail, self.config.from_address)

    async def send(self, mail: OutgoingMail) -> str:
        """Send; return the Message-ID header value. Bounded retries on transient errors."""
        message = self.build(mail)
        message_id = str(message["Message-ID"])
        pending = list(dict.fromkeys(mail.to))
        rejected: dict[str, str] = {}
        attempts = 0
        try:
            async for attempt in self._retrying():
                with attempt:
                    attempts += 1
                    refused = await self._call(self._deliver, message, pending)
                    rejected.update({a: _reply(c, t) for a, (c, t) in refused.items() if c >= 500})
                    pending = [a for a, (c, _) in refused.items() if c < 500]
                    if pending:
                        raise TransientError(f"{len(pending)} recipient(s) deferred: "
                                             + "; ".join(_reply(*refused[a]) for a in pending),
                                             system=SYSTEM)
        except TransientError as exc:
            raise TransientError(f"{exc.message} (gave up after {attempts} attempts)", system=SYSTEM,
                                 hint=exc.hint) from exc
        if rejected:
            delivered = [a for a in mail.to if a not in rejected]
            raise InvalidInput(f"e-mail {message_id}: recipient(s) refused: "
                               + "; ".join(f"{a} ({r})" for a, r in rejected.items())
                               + (f"; delivered to {', '.join(delivered)}" if delivered else ""),
                               system=SYSTEM, hint="Correct the recipient address, then replay the item.")
        log.info("sent %s to %d recipient(s) in %d attempt(s)", message_id, len(mail.to), attempts)
        return message_id

    async def health(self) -> Health:
        """Connect (+ STARTTLS/AUTH as configured), NOOP, QUIT; one attempt."""
        probe = HealthProbe(SYSTEM)
        try:
            await self._call(self._noop)
        except HubError as exc:
            return probe.failed(exc)
        return probe.ok(f"NOOP ok at {self.config.host}:{self.config.port}")

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop_after_attempt(self.policy.max_attempts)
            | stop_before_delay(self.policy.max_total_seconds),
            wait=lambda state: self.policy.backoff(state.attempt_number),
            reraise=True,
            before_sleep=_log_retry,
        )

    @staticmethod
    async def _call(func: Callable[..., T], *args: object) -> T:
        """Run blocking smtplib work in a thread; translate whatever it raises."""
        try:
            return await asyncio.to_thread(func, *args)
        except Exception as exc:
            raise translate_smtp_error(exc) from exc

    def _connect(self) -> smtplib.SMTP:
        cfg = self.config
        timeout = cfg.timeout
        if cfg.implicit_tls:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(cfg.host, cfg.port, local_hostname=cfg.helo_hostname,
                                                  timeout=timeout, context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(cfg.host, cfg.port, local_hostname=cfg.helo_hostname, timeout=timeout)
        try:
            smtp.ehlo()
            if cfg.starttls and not cfg.implicit_tls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if cfg.username is not None:
                password = cfg.password.get_secret_value() if cfg.password else ""
                smtp.login(cfg.username.get_secret_value(), password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _deliver(self, message: EmailMessage, recipients: list[str]) -> Refused:
        smtp = self._connect()
        try:
            try:
                return smtp.send_message(message, from_addr=self.config.from_address, to_addrs=recipients)
            except smtplib.SMTPRecipientsRefused as exc:
                return dict(exc.recipients)
        finally:
            _quit(smtp)

    def _noop(self) -> None:
        smtp = self._connect()
        try:
            code, text = smtp.noop()
            if code != 250:
                raise smtplib.SMTPResponseException(code, text)
        finally:
            _quit(smtp)


def _quit(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(smtplib.SMTPException, OSError):
        smtp.quit()
    smtp.close()


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning("smtp: attempt %d failed (%s); retrying", state.attempt_number, exc)
