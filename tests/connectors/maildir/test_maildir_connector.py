"""MaildirInbox against real Maildirs: one filled by the SMTP sink, others by ``mailbox.Maildir``."""

from __future__ import annotations

import mailbox
import os
import smtplib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.maildir import MaildirConfig, MaildirInbox
from hub.errors import ConfigError
from hub.ports.inbox import InboxMessage, InboxPort
from sandbox.smtp.process import start_smtp_sandbox

REPLY_TO = "avbestill+gr-12-abcdef@tjenesteplattform.oslomet.no"


def add(box: mailbox.Maildir, headers: str, *, age_seconds: float = 0.0, body: str = "Avbestill.\n") -> str:
    key = box.add(headers.strip() + "\n\n" + body)
    if age_seconds:
        stamp = time.time() - age_seconds
        path = Path(box._path) / box._lookup(key)  # type: ignore[attr-defined]
        os.utime(path, (stamp, stamp))
    return key


async def read(path: Path, since: datetime | None = None, **config: object) -> list[InboxMessage]:
    async with MaildirInbox(MaildirConfig(path=path, **config)) as inbox:  # type: ignore[arg-type]
        return [m async for m in inbox.messages_since(since)]


@pytest.fixture
def box(tmp_path: Path) -> mailbox.Maildir:
    return mailbox.Maildir(tmp_path / "Maildir", create=True)


async def test_reads_what_the_smtp_sink_delivered_and_leaves_it_in_place(tmp_path: Path) -> None:
    proc = start_smtp_sandbox(tmp_path / "Maildir", tmp_path / "logs")
    try:
        with smtplib.SMTP("127.0.0.1", int(proc.url.rsplit(":", 1)[1]), timeout=10) as smtp:
            for n in (1, 2):
                smtp.sendmail("Kari.Nordmann@OsloMet.no", [REPLY_TO],
                              f"From: Kari Nordmann <Kari.Nordmann@OsloMet.no>\nTo: {REPLY_TO}\n"
                              f"Cc: kopi@oslomet.no\nSubject: Re: booking {n}\n"
                              f"Message-ID: <reply-{n}@oslomet.no>\n\nAvbestill.\n".encode())
    finally:
        proc.stop()
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "Maildir").rglob("*"))
    inbox: InboxPort = MaildirInbox(MaildirConfig(path=tmp_path / "Maildir"))
    messages = [m async for m in inbox.messages_since(None)]
    assert [m.message_id for m in messages] == ["<reply-1@oslomet.no>", "<reply-2@oslomet.no>"]
    first = messages[0]
    assert first.sender == "Kari.Nordmann@OsloMet.no" and not first.automatic
    assert REPLY_TO in first.recipients and "kopi@oslomet.no" in first.recipients
    assert first.received.tzinfo is not None
    assert abs(first.received - datetime.now(UTC)) < timedelta(minutes=5)
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "Maildir").rglob("*")) == before  # read-only
    health = await inbox.health()
    assert health.ok and health.system == "maildir" and "2 message(s)" in health.detail


async def test_since_skips_older_files_but_keeps_the_overlap(box: mailbox.Maildir) -> None:
    add(box, f"To: {REPLY_TO}\nMessage-ID: <old@x>", age_seconds=3600)
    add(box, f"To: {REPLY_TO}\nMessage-ID: <overlap@x>", age_seconds=65)
    add(box, f"To: {REPLY_TO}\nMessage-ID: <new@x>")
    since = datetime.now(UTC) - timedelta(minutes=1)
    path = Path(box._path)  # type: ignore[attr-defined]
    assert [m.message_id for m in await read(path, since)] == ["<overlap@x>", "<new@x>"]
    assert [m.message_id for m in await read(path, since, overlap_seconds=0)] == ["<new@x>"]
    assert [m.message_id for m in await read(path)] == ["<old@x>", "<overlap@x>", "<new@x>"]


async def test_a_message_without_message_id_keeps_its_file_key_when_moved_to_cur(box: mailbox.Maildir) -> None:
    key = add(box, f"From: kari@oslomet.no\nTo: {REPLY_TO}")
    path = Path(box._path)  # type: ignore[attr-defined]
    (first,) = await read(path)
    message = box.get_message(key)
    message.set_subdir("cur")
    message.add_flag("S")
    box[key] = message  # what a mail client does once it has shown the message
    assert [p.name for p in (path / "cur").iterdir()] == [f"{key}:2,S"]
    (again,) = await read(path)
    assert first.message_id == again.message_id == key


async def test_automatic_replies_are_marked(box: mailbox.Maildir) -> None:
    add(box, f"To: {REPLY_TO}\nMessage-ID: <ooo@x>\nAuto-Submitted: auto-replied")
    add(box, f"To: {REPLY_TO}\nMessage-ID: <person@x>\nAuto-Submitted: No ")
    by_id = {m.message_id: m for m in await read(Path(box._path))}  # type: ignore[attr-defined]
    assert by_id["<ooo@x>"].automatic and not by_id["<person@x>"].automatic


async def test_hidden_files_and_folders_are_not_messages(box: mailbox.Maildir) -> None:
    path = Path(box._path)  # type: ignore[attr-defined]
    add(box, f"To: {REPLY_TO}\nMessage-ID: <real@x>")
    (path / "new" / ".hidden").write_text(f"To: {REPLY_TO}\nMessage-ID: <hidden@x>\n\n")
    (path / "cur" / "folder").mkdir()
    assert [m.message_id for m in await read(path)] == ["<real@x>"]


async def test_a_maildir_nothing_was_delivered_to_has_no_messages_and_is_unhealthy(tmp_path: Path) -> None:
    assert await read(tmp_path / "absent") == []
    async with MaildirInbox(MaildirConfig(path=tmp_path / "absent")) as inbox:
        health = await inbox.health()
    assert not health.ok and "no Maildir at" in health.detail and "config" in health.detail
    (tmp_path / "empty").mkdir()  # exists, but no new/ or cur/ yet
    assert await read(tmp_path / "empty") == []


async def test_a_file_where_the_maildir_should_be_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a Maildir\n")
    with pytest.raises(ConfigError, match="is a file, not a Maildir") as caught:
        await read(tmp_path / "file")
    assert "HUB_MAILDIR__PATH" in caught.value.hint
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "new").write_text("should be a folder\n")
    with pytest.raises(ConfigError, match="NotADirectoryError"):
        await read(tmp_path / "broken")
    async with MaildirInbox(MaildirConfig(path=tmp_path / "file")) as inbox:
        assert not (await inbox.health()).ok


async def test_no_path_configured_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="no Maildir is configured"):
        await read(None)  # type: ignore[arg-type]
