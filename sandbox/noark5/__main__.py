"""``python -m sandbox.noark5 --port N --data-dir D [--username U --password P]``."""

from __future__ import annotations

import argparse

from starlette.types import ASGIApp

from sandbox.common import serve_main
from sandbox.noark5.api import Settings
from sandbox.noark5.app import create_app

DEFAULT_PORT = 8702


def add_args(parser: argparse.ArgumentParser) -> None:
    defaults = Settings()
    parser.add_argument("--username", default=defaults.username, help="HTTP Basic user")
    parser.add_argument("--password", default=defaults.password, help="HTTP Basic password")
    parser.add_argument("--base-path", default=defaults.base_path,
                        help="path prefix of the API (discovery at <base-path>/api)")
    parser.add_argument("--max-upload-bytes", type=int, default=defaults.max_upload_bytes,
                        help="largest single upload (bulkgrense); larger answers 403")
    parser.add_argument("--page-size", type=int, default=defaults.page_size,
                        help="most results in one list page (server-driven paging)")


def factory(args: argparse.Namespace) -> ASGIApp:
    settings = Settings(base_path=args.base_path, username=args.username, password=args.password,
                        max_upload_bytes=args.max_upload_bytes, page_size=args.page_size)
    return create_app(args.data_dir, settings, control_token=args.control_token)


if __name__ == "__main__":
    serve_main("noark5", factory, DEFAULT_PORT, extra=add_args)
