"""``python -m sandbox.topdesk --port 8705 --data-dir D [--username U --app-password P]``.

The application password may also come from ``TOPDESK_SANDBOX_APP_PASSWORD`` (so it does
not show in the process list); ``--app-password`` wins when both are given.
"""

from __future__ import annotations

import argparse
import os

from starlette.types import ASGIApp

from sandbox.common import serve_main
from sandbox.topdesk.app import DEFAULT_APP_PASSWORD, DEFAULT_USERNAME, create_app

__all__ = ["main"]


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--username", default=DEFAULT_USERNAME, help="Login name of the API user.")
    parser.add_argument("--app-password", default=None, help="That user's application password "
                        "(default: $TOPDESK_SANDBOX_APP_PASSWORD, else the sandbox default).")


def main() -> None:
    def factory(args: argparse.Namespace) -> ASGIApp:
        password = args.app_password or os.environ.get("TOPDESK_SANDBOX_APP_PASSWORD") or DEFAULT_APP_PASSWORD
        return create_app(args.data_dir, args.username, password, control_token=args.control_token)

    serve_main("topdesk", factory, default_port=8705, extra=_options)


if __name__ == "__main__":
    main()
