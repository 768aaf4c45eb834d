"""``python -m sandbox.rt create|serve|token|install`` — isolated Request Tracker 5 instances.

    python -m sandbox.rt create --dir var/rt --port 8703   # initialise (from the cached template)
    python -m sandbox.rt serve  --dir var/rt --port 8703   # foreground server for the demo stack
    python -m sandbox.rt token  --dir var/rt               # print the hub user's auth token
    python -m sandbox.rt install                           # apt-get install RT 5 if missing

Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from sandbox.procs import wait_http
from sandbox.rt.install import RtInstallError, ensure_packages
from sandbox.rt.instance import DEFAULT_BCRYPT_COST, DEFAULT_PORT, RtSetupError, create, load
from sandbox.rt.server import DEFAULT_WORKERS, server_command


def _create(args: argparse.Namespace) -> int:
    instance = create(args.dir, args.port, bcrypt_cost=args.bcrypt_cost, use_template=not args.no_template)
    print(json.dumps({"dir": str(instance.dir), "base_url": instance.base_url,
                      "token_file": str(instance.token_file), "timings": instance.timings}, indent=2))
    return 0


def _serve(args: argparse.Namespace) -> int:
    if (args.dir / "instance.json").exists():
        instance = load(args.dir, args.port)
    else:
        instance = create(args.dir, args.port, bcrypt_cost=args.bcrypt_cost)
    started = time.monotonic()
    env = dict(os.environ, **instance.env())
    child = subprocess.Popen(server_command(instance, args.workers), env=env, cwd=instance.dir)

    def forward(signum: int, _frame: FrameType | None) -> None:
        child.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    try:
        wait_http(f"{instance.rest_url}/rt", timeout=90,
                  ok=lambda response: response.status_code in (200, 401))
        print(f"RT ready at {instance.base_url} after {time.monotonic() - started:.1f}s "
              f"(token in {instance.token_file}, log in {instance.log_path})", flush=True)
    except TimeoutError as exc:
        print(f"RT did not come up: {exc}", file=sys.stderr, flush=True)
        child.send_signal(signal.SIGTERM)
    return child.wait()


def _token(args: argparse.Namespace) -> int:
    print(load(args.dir).token.get_secret_value())
    return 0


def _install(_args: argparse.Namespace) -> int:
    ensure_packages()
    print("Request Tracker 5 is installed.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.rt", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    for name, handler in (("create", _create), ("serve", _serve), ("token", _token), ("install", _install)):
        sub = commands.add_parser(name)
        sub.set_defaults(handler=handler)
        if name == "install":
            continue
        sub.add_argument("--dir", type=Path, required=True, help="instance directory")
        if name in ("create", "serve"):
            sub.add_argument("--port", type=int, default=DEFAULT_PORT, help="port on 127.0.0.1")
            sub.add_argument("--bcrypt-cost", type=int, default=DEFAULT_BCRYPT_COST,
                             help="RT BcryptCost (RT's default is 12: ~0.3 s per REST2 request)")
        if name == "create":
            sub.add_argument("--no-template", action="store_true",
                             help="initialise from scratch instead of copying the cached template")
        if name == "serve":
            sub.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="Starlet workers")
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except (RtSetupError, RtInstallError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
