"""``python -m sandbox.faultproxy --upstream URL --port N`` (127.0.0.1 only)."""

import argparse

import uvicorn

from sandbox.faultproxy import create_app

parser = argparse.ArgumentParser(prog="python -m sandbox.faultproxy", description=__doc__)
parser.add_argument("--upstream", required=True)
parser.add_argument("--port", type=int, required=True)
args = parser.parse_args()
uvicorn.run(create_app(args.upstream), host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
