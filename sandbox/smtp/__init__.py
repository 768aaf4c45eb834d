"""SMTP sink for notification tests and the demo.

``python -m sandbox.smtp --port N --maildir D [--auth user:password]`` runs an aiosmtpd
server on 127.0.0.1 that stores every accepted message, byte for byte, in a Maildir under
``D`` (with ``Return-Path`` and ``Delivered-To`` trace headers in front, as an MTA adds)
and logs one line per message: recipients and the (masked) subject.

Recipient local parts steer failures, so clients can be tested against real SMTP replies:
``reject…@`` → ``550`` (permanent), ``tempfail…@`` → ``451`` always, ``greylist…@`` →
``451`` once per address, then accepted. ``--auth`` requires AUTH (PLAIN/LOGIN, allowed
without TLS here) with exactly that login; a wrong one gets ``535``.

:func:`sandbox.smtp.mailbox.read_messages` reads the Maildir back as ``EmailMessage``
objects; :func:`sandbox.smtp.process.start_smtp_sandbox` starts the server as a subprocess.
"""

from sandbox.smtp.mailbox import find_message, read_messages
from sandbox.smtp.process import start_smtp_sandbox

__all__ = ["read_messages", "find_message", "start_smtp_sandbox"]
