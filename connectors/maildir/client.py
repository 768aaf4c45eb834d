"""Maildir inbox connector: implements :class:`hub.ports.inbox.InboxPort` over a Maildir folder.

The mail server delivers each message as one file in ``new/`` (a reader that has seen it
may move it to ``cur/``); this connector reads the headers of the files in both — read-only,
never moving, flagging or deleting one, so any other reader of the same Maildir is
undisturbed. A file's modification time is when it arrived; a read "since" a time takes the
files modified at most ``overlap_seconds`` before it. File work runs in a worker thread
(``asyncio.to_thread``), so the event loop never blocks. Errors, translated to
:mod:`hub.errors`::

    no Maildir at the path (nothing delivered yet)      → no messages; health: not ok
    the path is a file, or not readable (permissions)  → ConfigError
    other I/O errors (a network mount failing)          → TransientError
    a file moved or deleted by another reader meanwhile → skipped
    a message whose headers cannot be parsed            → skipped, with a warning
"""

from __future__ import annotations

import asyncio
import email.message
import email.parser
import email.policy
import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import getaddresses, parseaddr
from pathlib import Path

from connectors.maildir.config import MaildirConfig
from hub.errors import ConfigError, HubError, TransientError
from hub.ports.common import Health, HealthProbe
from hub.ports.inbox import InboxMessage

__all__ = ["MaildirInbox", "message_from_headers", "translate_os_error", "SYSTEM"]

log = logging.getLogger("connectors.maildir")

SYSTEM = "maildir"
FOLDERS = ("new", "cur")
HEADER_BYTES = 64 * 1024
_HINT = "Set HUB_MAILDIR__PATH (or HUB_ROOMS__REPLY_MAILDIR) to the Maildir: the folder holding new/ and cur/."


def translate_os_error(exc: OSError, path: Path) -> HubError:
    """A file-system error reading the Maildir, in the hub's error tree."""
    if isinstance(exc, PermissionError | NotADirectoryError | IsADirectoryError):
        return ConfigError(f"cannot read the Maildir {path}: {exc.__class__.__name__}: {exc.strerror or exc}",
                           system=SYSTEM, hint=_HINT + " The hub needs read access to it.")
    return TransientError(f"reading the Maildir {path} failed: {exc.__class__.__name__}: {exc.strerror or exc}",
                          system=SYSTEM, hint="Check the disk or network mount holding the Maildir; "
                                              "the next run reads it again.")


def message_from_headers(headers: email.message.Message, *, key: str, received: datetime) -> InboxMessage:
    """The port's view of one message's headers; ``key`` stands in for a missing Message-ID."""
    recipients = getaddresses([str(headers.get(name, "")) for name in ("Delivered-To", "To", "Cc")])
    return InboxMessage(message_id=str(headers.get("Message-ID", "")).strip() or key,
                        sender=parseaddr(str(headers.get("From", "")))[1],
                        recipients=tuple(address for _, address in recipients if address),
                        received=received,
                        automatic=str(headers.get("Auto-Submitted", "no")).strip().lower() != "no")


def _headers(path: Path) -> email.message.Message:
    with path.open("rb") as handle:
        head = handle.read(HEADER_BYTES)
    return email.parser.BytesHeaderParser(policy=email.policy.default).parsebytes(head)


class MaildirInbox:
    """A Maildir as an :class:`~hub.ports.inbox.InboxPort`."""

    def __init__(self, config: MaildirConfig) -> None:
        self.config = config

    async def __aenter__(self) -> MaildirInbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Nothing to release: every read opens and closes its own files."""

    @property
    def path(self) -> Path:
        if self.config.path is None:
            raise ConfigError("no Maildir is configured", system=SYSTEM, hint=_HINT)
        return self.config.path

    async def messages_since(self, since: datetime | None = None) -> AsyncIterator[InboxMessage]:
        """Messages whose file changed at or after ``since`` minus ``overlap_seconds``, oldest first."""
        floor = None if since is None else since.timestamp() - self.config.overlap_seconds
        for message in await asyncio.to_thread(self._read, floor):
            yield message

    async def health(self) -> Health:
        """The Maildir exists and its new/ and cur/ can be listed."""
        probe = HealthProbe(SYSTEM)
        try:
            count = await asyncio.to_thread(self._count)
        except HubError as exc:
            return probe.failed(exc)
        return probe.ok(f"{count} message(s) in {self.path}")

    def _root(self) -> Path | None:
        """The Maildir, or None while it does not exist."""
        path = self.path
        try:
            if not path.exists():
                return None
        except OSError as exc:
            raise translate_os_error(exc, path) from exc
        if not path.is_dir():
            raise ConfigError(f"{path} is a file, not a Maildir", system=SYSTEM, hint=_HINT)
        return path

    def _entries(self, root: Path) -> list[os.DirEntry[str]]:
        entries: list[os.DirEntry[str]] = []
        for sub in FOLDERS:
            try:
                with os.scandir(root / sub) as found:
                    entries += [e for e in found if not e.name.startswith(".")]
            except FileNotFoundError:  # a Maildir nobody has delivered to yet may lack one
                continue
            except OSError as exc:
                raise translate_os_error(exc, root / sub) from exc
        return entries

    def _count(self) -> int:
        root = self._root()
        if root is None:
            raise ConfigError(f"there is no Maildir at {self.path}", system=SYSTEM,
                              hint=_HINT + " (The mail server creates it with the first delivery.)")
        return len(self._entries(root))

    def _read(self, floor: float | None) -> list[InboxMessage]:
        root = self._root()
        if root is None:
            return []
        found: list[InboxMessage] = []
        for entry in self._entries(root):
            try:
                if not entry.is_file():
                    continue
                mtime = entry.stat().st_mtime
                if floor is not None and mtime < floor:
                    continue
                headers = _headers(Path(entry.path))
            except OSError:  # moved or deleted meanwhile by another reader
                continue
            try:
                found.append(message_from_headers(headers, key=entry.name.split(":")[0],
                                                  received=datetime.fromtimestamp(mtime, UTC)))
            except (ValueError, IndexError, TypeError, AttributeError) as exc:
                log.warning("maildir: skipping %s, its headers cannot be read (%s)", entry.name,
                            exc.__class__.__name__)
        return sorted(found, key=lambda m: m.received)
