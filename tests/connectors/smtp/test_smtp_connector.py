"""SmtpMail against the real SMTP sandbox subprocess: what lands in the Maildir."""

from __future__ import annotations

import email.utils
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from connectors.smtp import SmtpConfig, SmtpMail
from hub.errors import ConfigError, InvalidInput, TransientError
from hub.ports.mail import Attachment, MailPort, OutgoingMail
from sandbox.procs import Proc, free_port
from sandbox.smtp.mailbox import find_message, read_messages
from tests.connectors.smtp.conftest import LOGIN, SENDER

MakeMail = Callable[..., SmtpMail]
FNR = "14436810211"  # synthetic, valid check digits
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\n\x00\xff trailer\n%%EOF\n"


def new_id() -> str:
    return f"<onboarding.{uuid.uuid4().hex}@hub.oslomet.no>"


def mail(message_id: str, **changes: object) -> OutgoingMail:
    fields: dict[str, object] = {
        "to": ("bjorg.amodt@oslomet.no",),
        "subject": "Velkommen til OsloMet, Bjørg Åmodt",
        "body": "Hei Bjørg!\n\nFørste arbeidsdag er mandag. Vi gleder oss – hilsen IT-avdelingen.\n",
        "message_id": message_id,
    }
    fields.update(changes)
    return OutgoingMail.model_validate(fields)


async def test_send_with_html_and_attachment_round_trips(make_mail: MakeMail, maildir: Path) -> None:
    message_id = new_id()
    outgoing = mail(message_id, html="<p>Hei <b>Bjørg</b>!</p>", reply_to="hr@oslomet.no",
                    attachments=(Attachment(filename="Arbeidsavtale Åmodt.pdf", content=PDF,
                                            media_type="application/pdf"),))
    async with make_mail() as mailer:
        port: MailPort = mailer
        returned = await port.send(outgoing)
    assert returned == message_id
    (received,) = find_message(maildir, message_id)
    assert received["Message-ID"] == message_id
    assert received["Subject"] == "Velkommen til OsloMet, Bjørg Åmodt"
    assert (received["From"], received["To"], received["Reply-To"]) == (
        SENDER, "bjorg.amodt@oslomet.no", "hr@oslomet.no")
    sent_at = email.utils.parsedate_to_datetime(str(received["Date"]))
    assert sent_at.utcoffset() == datetime.now(ZoneInfo("Europe/Oslo")).utcoffset()
    text = received.get_body(("plain",))
    html = received.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content() == outgoing.body and text.get_content_charset() == "utf-8"
    assert "<b>Bjørg</b>" in html.get_content()
    (attachment,) = list(received.iter_attachments())
    assert attachment.get_filename() == "Arbeidsavtale Åmodt.pdf"
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF


@pytest.mark.parametrize("where", ["subject", "body", "html"])
async def test_fodselsnummer_is_refused_and_nothing_is_sent(
        make_mail: MakeMail, maildir: Path, where: str) -> None:
    message_id = new_id()
    outgoing = mail(message_id, **{where: f"Ny ansatt med fnr {FNR[:6]} {FNR[6:]}"})
    async with make_mail() as mailer:
        with pytest.raises(InvalidInput) as caught:
            await mailer.send(outgoing)
    assert FNR not in str(caught.value) and FNR[6:] not in str(caught.value)
    assert find_message(maildir, message_id) == []


async def test_server_down_is_transient_after_bounded_retries(make_mail: MakeMail) -> None:
    started = time.monotonic()
    async with make_mail(base_url=f"smtp://127.0.0.1:{free_port()}", max_attempts=3) as mailer:
        with pytest.raises(TransientError) as caught:
            await mailer.send(mail(new_id()))
    elapsed = time.monotonic() - started
    assert "after 3 attempts" in caught.value.message
    assert 0.5 <= elapsed < 5  # backoff 0.2 s + 0.4 s, well inside the budget


async def test_refused_recipient_is_invalid_input_others_still_delivered(
        make_mail: MakeMail, maildir: Path) -> None:
    message_id = new_id()
    async with make_mail() as mailer:
        with pytest.raises(InvalidInput) as caught:
            await mailer.send(mail(message_id, to=("reject.me@oslomet.no", "kari@oslomet.no")))
    assert "reject.me@oslomet.no (550" in caught.value.message
    assert "delivered to kari@oslomet.no" in caught.value.message
    (received,) = find_message(maildir, message_id)
    assert received["Delivered-To"] == "kari@oslomet.no"


@pytest.mark.parametrize(("changes", "named", "why"), [
    ({"to": ("kari@",)}, "recipient address 'kari@'", "There must be something after the @-sign."),
    ({"to": ("ola@oslomet.no", "kari@")}, "recipient address 'kari@'", "There must be something after"),
    ({"to": ("@oslomet.no",)}, "recipient address '@oslomet.no'", "There must be something before the @-sign."),
    ({"to": ("kari@oslomet.no\r\nBcc: alle@oslomet.no",)}, "recipient address", "invalid characters"),
    ({"to": ("Kari <kari@oslomet.no>",)}, "recipient address", "angle brackets"),
    ({"reply_to": "svar@"}, "Reply-To address 'svar@'", "There must be something after the @-sign."),
])
async def test_an_invalid_address_is_invalid_input_naming_it_and_nothing_is_sent(
        make_mail: MakeMail, maildir: Path, changes: dict[str, object], named: str, why: str) -> None:
    """``kari@`` used to crash the header parser with IndexError: an unreadable dead letter."""
    message_id = new_id()
    async with make_mail() as mailer:
        with pytest.raises(InvalidInput) as caught:
            await mailer.send(mail(message_id, **changes))
    assert named in caught.value.message and why in caught.value.message
    assert caught.value.system == "smtp" and "Correct the address" in caught.value.hint
    assert find_message(maildir, message_id) == []


def test_a_sender_that_is_no_address_is_a_settings_error(smtp_sandbox: Proc) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not a valid e-mail address"):
        SmtpConfig(base_url=smtp_sandbox.url, from_address="tjenesteplattform@")


async def test_greylisted_recipient_is_retried_and_nobody_gets_two_copies(
        make_mail: MakeMail, maildir: Path) -> None:
    message_id = new_id()
    greylisted = f"greylist.{uuid.uuid4().hex[:8]}@oslomet.no"
    async with make_mail() as mailer:
        await mailer.send(mail(message_id, to=(greylisted, "ola@oslomet.no")))
    copies = find_message(maildir, message_id)
    assert sorted(str(m["Delivered-To"]) for m in copies) == sorted([greylisted, "ola@oslomet.no"])


async def test_persistent_4xx_is_transient(make_mail: MakeMail, maildir: Path) -> None:
    message_id = new_id()
    async with make_mail(max_attempts=2) as mailer:
        with pytest.raises(TransientError) as caught:
            await mailer.send(mail(message_id, to=("tempfail@oslomet.no",)))
    assert "451" in caught.value.message and "after 2 attempts" in caught.value.message
    assert find_message(maildir, message_id) == []


async def test_auth(smtp_auth_sandbox: Proc) -> None:
    user, password = LOGIN.split(":")
    base = {"base_url": smtp_auth_sandbox.url, "from_address": SENDER, "max_attempts": 2}
    message_id = new_id()
    async with SmtpMail(SmtpConfig(**base, username=user, password=password)) as mailer:
        assert await mailer.send(mail(message_id)) == message_id
    assert len(find_message(smtp_auth_sandbox.extra["maildir"], message_id)) == 1
    async with SmtpMail(SmtpConfig(**base, username=user, password="wrong")) as mailer:
        with pytest.raises(ConfigError) as wrong:
            await mailer.send(mail(new_id()))
    async with SmtpMail(SmtpConfig(**base)) as mailer:
        with pytest.raises(ConfigError) as missing:
            await mailer.send(mail(new_id()))
    assert "535" in wrong.value.message and "PASSWORD" in wrong.value.hint
    assert "530" in missing.value.message
    assert password not in str(wrong.value) and "wrong" not in str(wrong.value)
    assert len(read_messages(smtp_auth_sandbox.extra["maildir"])) == 1


async def test_message_id_is_normalised_and_bad_headers_refused(make_mail: MakeMail, maildir: Path) -> None:
    bare = f"onboarding.{uuid.uuid4().hex}"
    async with make_mail() as mailer:
        returned = await mailer.send(mail(bare))
        with pytest.raises(InvalidInput):
            await mailer.send(mail(new_id(), subject="Hei\r\nBcc: everyone@oslomet.no"))
    assert returned == f"<{bare}@oslomet.no>"
    assert len(find_message(maildir, returned)) == 1


async def test_health(make_mail: MakeMail) -> None:
    async with make_mail() as mailer:
        up = await mailer.health()
    async with make_mail(base_url=f"smtp://127.0.0.1:{free_port()}") as mailer:
        down = await mailer.health()
    assert up.ok and up.system == "smtp" and up.latency_ms > 0
    assert not down.ok and "cannot reach" in down.detail
