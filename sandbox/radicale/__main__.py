"""``python -m sandbox.radicale --port N --data-dir D [--user hub --password P]``.

Writes the configuration, provisions the room calendars, then becomes the real Radicale
server (``python -m radicale --config <data-dir>/radicale.conf``) in this same process, so
the process the caller started is the server it stops.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sandbox.radicale.configure import DEFAULT_PASSWORD, DEFAULT_USER, provision_rooms, write_config

__all__ = ["main"]

DEFAULT_PORT = 8706


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox.radicale",
                                     description="Radicale CalDAV server with the group-room calendars "
                                                 "(127.0.0.1 only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--data-dir", type=Path, default=Path("var") / "sandbox" / "radicale")
    parser.add_argument("--user", default=DEFAULT_USER)
    parser.add_argument("--password", default=os.environ.get("RADICALE_SANDBOX_PASSWORD", DEFAULT_PASSWORD))
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    data_dir = args.data_dir.resolve()
    config = write_config(data_dir, args.port, user=args.user, password=args.password, log_level=args.log_level)
    created = provision_rooms(config, user=args.user, password=args.password)
    print(f"radicale sandbox: {len(created)} room calendar(s) created in {data_dir}; "
          f"serving on 127.0.0.1:{args.port}", flush=True)
    os.execv(sys.executable, [sys.executable, "-m", "radicale", "--config", str(config)])


if __name__ == "__main__":
    main()
