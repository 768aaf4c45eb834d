"""Collecting cancel replies: a real Maildir read through the inbox port into a real ledger."""

from __future__ import annotations

import mailbox
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from connectors.maildir import MaildirConfig, MaildirInbox
from flows.rooms_replies import collect_cancel_replies, cursor_name
from hub.ledger import Ledger
from hub.settings import Settings
from hub.wiring import build_inbox
from mappings.rooms_replies import reply_key

MAILBOX, DOMAIN, SERVICE = "avbestill", "tjenesteplattform.oslomet.no", "rooms-cancel"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(f"sqlite:///{tmp_path}/ledger.db")
    yield ledger
    ledger.dispose()


def deliver(box: mailbox.Maildir, message_id: str, to: str, *, age_seconds: float = 0, extra: str = "") -> None:
    key = box.add(f"From: Kari@OsloMet.no\nTo: {to}\nMessage-ID: {message_id}\n{extra}\nAvbestill.\n")
    if age_seconds:
        stamp = time.time() - age_seconds
        os.utime(Path(box._path) / box._lookup(key), (stamp, stamp))  # type: ignore[attr-defined]


async def collect(inbox: MaildirInbox, ledger: Ledger) -> int:
    return await collect_cancel_replies.fn(inbox, ledger, mailbox=MAILBOX, domain=DOMAIN, service=SERVICE)


async def test_each_reply_becomes_one_pending_item_and_the_cursor_moves(tmp_path: Path, ledger: Ledger) -> None:
    box = mailbox.Maildir(tmp_path / "mail", create=True)
    inbox = MaildirInbox(MaildirConfig(path=tmp_path / "mail"))
    deliver(box, "<r1@x>", f"{MAILBOX}+gr-1-abc@{DOMAIN}", age_seconds=3600)
    deliver(box, "<ooo@x>", f"{MAILBOX}+gr-1-abc@{DOMAIN}", extra="Auto-Submitted: auto-replied\n")
    deliver(box, "<other@x>", "hr@oslomet.no")
    assert await collect(inbox, ledger) == 1
    item = ledger.get_item(SERVICE, reply_key("<r1@x>"))
    assert item is not None and item.state == "pending"
    assert item.data == {"channel": "reply", "booker": "kari@oslomet.no", "reference": "gr-1-abc"}
    cursor = ledger.get_cursor(cursor_name(MAILBOX, DOMAIN))
    assert cursor is not None and abs(float(cursor) - time.time()) < 60  # the newest message read, any kind

    assert await collect(inbox, ledger) == 0  # read again within the overlap: dropped by the key
    deliver(box, "<r2@x>", f"{MAILBOX}+gr-2-def@{DOMAIN}")
    assert await collect(inbox, ledger) == 1
    assert len(ledger.items(service=SERVICE, limit=None)) == 2


async def test_an_old_cursor_skips_what_was_read_long_ago(tmp_path: Path, ledger: Ledger) -> None:
    box = mailbox.Maildir(tmp_path / "mail", create=True)
    deliver(box, "<old@x>", f"{MAILBOX}+gr-1-abc@{DOMAIN}", age_seconds=3600)
    ledger.set_cursor(cursor_name(MAILBOX, DOMAIN), repr(time.time() - 60))  # as the Maildir-reading flow left it
    assert await collect(MaildirInbox(MaildirConfig(path=tmp_path / "mail")), ledger) == 0
    assert ledger.get_item(SERVICE, reply_key("<old@x>")) is None


def test_the_rooms_reply_maildir_setting_still_chooses_the_maildir(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_HOME", str(tmp_path / "home"))
    assert Settings().adapter_config("maildir").path == tmp_path / "home" / "mail"
    monkeypatch.setenv("HUB_ROOMS__REPLY_MAILDIR", str(tmp_path / "replies"))
    settings = Settings()
    assert settings.adapter_config("maildir").path == tmp_path / "replies"
    inbox = build_inbox(settings)
    assert isinstance(inbox, MaildirInbox) and inbox.path == tmp_path / "replies"
    monkeypatch.setenv("HUB_MAILDIR__PATH", str(tmp_path / "new-name"))
    assert Settings().adapter_config("maildir").path == tmp_path / "new-name"
