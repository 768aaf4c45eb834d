"""``python -m devtools.demo``: the hub's main job on embedded defaults.

Starts the whole stack on 127.0.0.1 (see :mod:`devtools.stack`), lets DFØ's sandbox announce
one new hire, waits for the onboarding run, prints where to look, and keeps running until
Ctrl-C, when it stops every process it started. Meanwhile a supervisor (:mod:`devtools.supervise`)
restarts any part that dies, after clearing away what it left behind.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from datetime import date
from pathlib import Path

import httpx
from rich.console import Console
from rich.markup import escape

from devtools.stack import Stack, StackPorts
from sandbox.common import control_headers
from sandbox.procs import ROOT

console = Console()

DEMO_EMPLOYEE = "10005"  # a seeded hire who starts in a few days


def _announce(stack: Stack, employee_id: str) -> httpx.Response:
    """Ask the DFØ sandbox to send its signed new-hire event; returns the intake's answer."""
    response = httpx.post(f"{stack.dfo_url}/_sandbox/announce", headers=control_headers(stack.sandbox_token),
                          json={"id": employee_id, "gyldigEtter": date.today().isoformat()}, timeout=30)
    if response.status_code >= 400:
        raise RuntimeError(f"the intake refused the event: {response.status_code} {response.text}")
    return response


def _wait_for_item(stack: Stack, employee_id: str, timeout: float = 120) -> object:
    from hub.ledger import ItemState
    from hub.wiring import get_ledger

    ledger = get_ledger()
    deadline = time.monotonic() + timeout
    with console.status("waiting for the onboarding run to finish…"):
        while time.monotonic() < deadline:
            item = ledger.get_item("onboarding", employee_id)
            if item is not None and item.state not in ItemState.OPEN:
                return item
            time.sleep(0.5)
    raise TimeoutError(f"onboarding of {employee_id} did not finish in {timeout:.0f}s; "
                       f"see {stack.logs}/runner.log")


def _report(stack: Stack, item: object) -> None:
    """Where to look, one full URL per line (copyable; never truncated)."""
    from hub.ledger import WorkItem

    assert isinstance(item, WorkItem)
    colour = "green" if item.state == "done" else "red"
    console.print(f"\n[bold]Onboarding of DFØ employee {item.source_key}: [{colour}]{item.state}[/{colour}][/bold]")
    lines = []
    if item.flow_run_id:
        lines.append(("Prefect run (steps, logs)", f"{stack.prefect_ui}/runs/flow-run/{item.flow_run_id}"))
    lines.append(("Prefect UI", stack.prefect_ui))
    for ref in item.refs:
        if ref.kind == "ticket":
            lines.append((f"RT ticket ({ref.name.removeprefix('ticket_')})",
                          f"{stack.rt_url}/Ticket/Display.html?id={ref.ref}"))
        elif ref.kind == "asset":
            lines.append(("RT laptop", f"{stack.rt_url}/Asset/Display.html?id={ref.ref}"))
        elif ref.system == "archive" and ref.url:
            lines.append((f"archive {ref.kind.replace('_', ' ')}", ref.url))
        elif ref.kind == "message":
            lines.append(("e-mail to the manager", f"{ref.ref} in {stack.maildir}"))
    password = stack.rt_dir / "root-password"
    lines.append(("RT web login", f"root / {password.read_text().strip() if password.exists() else '?'}"))
    if stack.env().get("HUB_ARCHIVE") == "p360":
        lines.append(("archive (Public 360 SIF)", f"POST {stack.p360_api}/{{Service}}/{{Method}}"))
        lines.append(("archive login", f"?authkey={stack.secrets['p360_auth_key']} (or the header "
                                       "Authorization: authkey …, clientid: oslomet-hub)"))
    else:
        lines.append(("archive login", "hub / sandbox-n5ws-password (HTTP Basic)"))
    lines.append(("sandbox control token", f"{stack.home / 'sandbox' / 'control-token'} (X-Sandbox-Token)"))
    lines.append(("logs", str(stack.logs)))
    width = max(len(label) for label, _ in lines)
    for label, where in lines:
        console.print(f"  {label:<{width}}  {where}", soft_wrap=True, highlight=False)
    if item.last_error:
        console.print(f"[red]last error:[/red] {item.last_error}", soft_wrap=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=ROOT / "var", help="state folder (default: ./var)")
    parser.add_argument("--employee", default=DEMO_EMPLOYEE, help="DFØ id of the hire to announce")
    parser.add_argument("--no-wait", action="store_true", help="start, announce, report, and exit")
    parser.add_argument("--archive", choices=("n5ws", "p360"), default=os.environ.get("HUB_ARCHIVE") or "n5ws",
                        help="the archive the hub writes to: the Noark 5 core (n5ws) or Public 360 (p360); "
                             "default: $HUB_ARCHIVE, else n5ws")
    parser.add_argument("--scale", type=int, metavar="N", default=0,
                        help="the production shape with N workers: PostgreSQL and Redis (Debian's), the Prefect "
                             "API and its services apart, the deployments in a work pool (state in HOME/scaled)")
    args = parser.parse_args()

    stack: Stack
    if args.scale:
        from devtools.scaled import DEMO_PG_PORT, DEMO_REDIS_PORT, ScaledStack

        stack = ScaledStack(home=(args.home / "scaled").resolve(), ports=StackPorts.defaults(),
                            extra_env={"HUB_ARCHIVE": args.archive}, workers=args.scale,
                            pg_port=DEMO_PG_PORT, redis_port=DEMO_REDIS_PORT)
    else:
        stack = Stack(home=args.home.resolve(), ports=StackPorts.defaults(), extra_env={"HUB_ARCHIVE": args.archive})
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, even if started in the background
    try:
        stack.start_all(progress=lambda msg: console.print(f"[bold cyan]hub[/bold cyan] {msg}"))
        stack.supervise(say=lambda line: console.print(f"[bold cyan]hub[/bold cyan] [yellow]{escape(line)}[/yellow]",
                                                       soft_wrap=True, highlight=False),
                        advice="fix the cause, then restart the demo (Ctrl-C, then bash scripts/demo.sh)")
        console.print(f"[bold cyan]hub[/bold cyan] DFØ announces a new hire (employee {args.employee})")
        answer = _announce(stack, args.employee)
        console.print(f"[bold cyan]hub[/bold cyan] intake answered {answer.status_code}: {answer.text}")
        _report(stack, _wait_for_item(stack, args.employee))
        if args.no_wait:
            return 0
        console.print("\n[bold]The hub keeps running.[/bold] Open the Prefect UI above. Laptop orders, "
                      "fritak applications and group-room bookings in the Nettskjema sandbox are picked up "
                      "every minute; submit your own with the commands under 'The form services' in README.md. "
                      "A part that crashes is restarted. Press Ctrl-C to stop everything.")
        while not stop:  # the supervisor's thread does the watching
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    except Exception as exc:
        console.print(f"[red]the demo failed:[/red] {exc}")
        return 1
    finally:
        console.print("[bold cyan]hub[/bold cyan] stopping all processes…")
        stack.stop_all()
        console.print("[bold cyan]hub[/bold cyan] stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
