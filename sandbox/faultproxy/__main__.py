"""``python -m sandbox.faultproxy --upstream URL --port N [--control-token T]`` (127.0.0.1 only)."""

import argparse
from pathlib import Path

import uvicorn

from sandbox.common import serve_token
from sandbox.faultproxy import create_app

parser = argparse.ArgumentParser(prog="python -m sandbox.faultproxy", description=__doc__)
parser.add_argument("--upstream", required=True)
parser.add_argument("--port", type=int, required=True)
parser.add_argument("--control-token", default=None, help="Token for the /_sandbox/* routes (default: "
                    "$HUB_SANDBOX_TOKEN, else one kept in <data-dir>/control-token).")
parser.add_argument("--data-dir", type=Path, default=Path("var") / "sandbox" / "faultproxy",
                    help="Where a generated control token is kept.")
parser.add_argument("--access-log", action="store_true", help="Log every request (method, path, status).")
args = parser.parse_args()
token = serve_token(args.control_token, args.data_dir)
# No Date/Server of its own: the upstream's pass through, and two Date headers would reach the
# client as one "a, b" value (a naive datetime to email.utils).
uvicorn.run(create_app(args.upstream, token), host="127.0.0.1", port=args.port,
            log_level="info" if args.access_log else "warning", access_log=args.access_log,
            date_header=False, server_header=False)
