"""Maildir inbox connector: ``MaildirInbox(MaildirConfig(path=...))`` implements
:class:`hub.ports.inbox.InboxPort` by reading a Maildir's files. See :mod:`connectors.maildir.client`."""

from connectors.maildir.client import MaildirInbox
from connectors.maildir.config import MaildirConfig

# The registry's convention (connectors/registry.py): what implements the port, and its settings.
CONFIG = MaildirConfig
CLIENT = MaildirInbox

__all__ = ["CONFIG", "CLIENT", "MaildirInbox", "MaildirConfig"]
