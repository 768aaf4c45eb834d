"""``python -m sandbox.dfo [serve options]`` or ``python -m sandbox.dfo announce ID ...``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path

import httpx

from sandbox.common import serve_main
from sandbox.dfo.announce import announce
from sandbox.dfo.app import create_app
from sandbox.dfo.store import OSLO

__all__ = ["main"]


def _serve_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--api-key", required=True, help="Expected X-Gravitee-Api-Key.")
    parser.add_argument("--intake-url", default=None, help="Where /_sandbox/announce sends events.")
    parser.add_argument("--hmac-secret", default=None, help="Shared secret for event signatures.")


def _start_date(data_dir: Path | None, employee_id: str) -> str | None:
    store = (data_dir / "dfo.json") if data_dir else None
    if store is None or not store.exists():
        return None
    employee = json.loads(store.read_text("utf-8"))["ansatte"].get(str(int(employee_id)) if employee_id.isdigit() else employee_id)
    return (employee or {}).get("startdato") or None


def _announce_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.dfo announce",
                                     description="Sign and send one DFØ change event.")
    parser.add_argument("id", help="Employee id, e.g. 10005.")
    parser.add_argument("--gyldig-etter", default=None, help="YYYY-MM-DD; default: the "
                        "employee's startdato from --data-dir, else today (Europe/Oslo).")
    parser.add_argument("--intake-url", required=True)
    parser.add_argument("--hmac-secret", required=True)
    parser.add_argument("--uri", default="dfo:ansatte")
    parser.add_argument("--data-dir", type=Path, default=None, help="The sandbox's data dir.")
    args = parser.parse_args(argv)
    gyldig_etter = (args.gyldig_etter or _start_date(args.data_dir, args.id)
                    or datetime.now(OSLO).date().isoformat())
    try:
        response = announce(args.intake_url, args.hmac_secret, args.id, gyldig_etter, args.uri)
    except httpx.HTTPError as exc:
        print(f"intake unreachable: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 2
    print(f"{response.status_code} {response.text}")
    return 0 if response.is_success else 1


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "announce":
        raise SystemExit(_announce_cli(sys.argv[2:]))
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        del sys.argv[1]
    serve_main("dfo", lambda a: create_app(a.data_dir, a.api_key, a.intake_url, a.hmac_secret,
                                              a.control_token),
               default_port=8701, extra=_serve_options)


if __name__ == "__main__":
    main()
