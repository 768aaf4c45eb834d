"""SMTP mail connector: ``SmtpMail(SmtpConfig(base_url="smtp://host:port", from_address=...))``
implements :class:`hub.ports.mail.MailPort`. See :mod:`connectors.smtp.client`."""

from connectors.smtp.client import SmtpMail
from connectors.smtp.config import SmtpConfig

# The registry's convention (connectors/registry.py): what implements the port, and its settings.
CONFIG = SmtpConfig
CLIENT = SmtpMail

__all__ = ["CONFIG", "CLIENT", "SmtpMail", "SmtpConfig"]
