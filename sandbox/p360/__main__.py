"""``python -m sandbox.p360 --port 8707 --data-dir D [--client-id C]``.

The auth key comes from ``P360_SANDBOX_AUTH_KEY`` (so it does not show in the process
list), else ``--auth-key``, else the sandbox default.
"""

from __future__ import annotations

import argparse
import os

from starlette.types import ASGIApp

from sandbox.common import serve_main
from sandbox.p360.app import DEFAULT_AUTH_KEY, DEFAULT_CLIENT_ID, create_app

__all__ = ["main"]


def _options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--auth-key", default=None, help="The service user's authkey (default: "
                        "$P360_SANDBOX_AUTH_KEY, else the sandbox default).")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help="Client id the header form of "
                        "authentication must name.")


def main() -> None:
    def factory(args: argparse.Namespace) -> ASGIApp:
        key = os.environ.get("P360_SANDBOX_AUTH_KEY") or args.auth_key or DEFAULT_AUTH_KEY
        return create_app(args.data_dir, key, args.client_id, control_token=args.control_token)

    serve_main("p360", factory, default_port=8707, extra=_options)


if __name__ == "__main__":
    main()
