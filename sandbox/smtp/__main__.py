"""``python -m sandbox.smtp --port N --maildir D [--auth user:password]``."""

from __future__ import annotations

import argparse
import asyncio
import logging
from pathlib import Path

from sandbox.smtp.server import serve

__all__ = ["main"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.smtp",
                                     description="SMTP sink on 127.0.0.1 that stores mail in a Maildir")
    parser.add_argument("--port", type=int, default=8725)
    parser.add_argument("--maildir", type=Path, default=Path("var") / "sandbox" / "smtp" / "Maildir")
    parser.add_argument("--auth", default=None, help="Require AUTH PLAIN/LOGIN as user:password.")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args()
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s smtp %(levelname)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's per-command chatter
    args.maildir.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args.port, args.maildir, args.auth))


if __name__ == "__main__":
    main()
