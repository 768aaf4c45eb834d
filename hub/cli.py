"""``hub``: the operator's command line (typer + rich).

    hub status              the stack's health, dead runs and what they left, each service's backlog
    hub items               list and filter work items (dead letters: --state failed; --stuck)
    hub replay ID...        replay dead letters or stuck items (or --service S --all-failed / --all-stuck)
    hub events send ID      send a signed test HR event to the intake
    hub doctor              check configuration and connectivity, and say what to fix

Settings come from HUB_* variables, like every hub process (defaults: the local stack).
Developer commands (the demo, scaffolding a connector) are in ``python -m devtools``.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from hub.ledger import ItemState
from hub.settings import OSLO, get_settings

app = typer.Typer(help="Operate the OsloMet tjenesteplattform hub.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
events_app = typer.Typer(help="Send test events.", no_args_is_help=True)
app.add_typer(events_app, name="events")
console = Console()


def _use_prefect() -> None:
    """Point Prefect's client at the hub's Prefect server (HUB_PREFECT_API_URL)."""
    os.environ.setdefault("PREFECT_API_URL", get_settings().prefect_api_url)
    from prefect.context import refresh_global_settings_context

    refresh_global_settings_context()


def _ledger() -> Any:
    from hub.wiring import get_ledger

    return get_ledger()


def _when(value: datetime | None) -> str:
    return value.astimezone(OSLO).strftime("%Y-%m-%d %H:%M") if value else "-"


def _mark(ok: bool) -> str:
    return "[green]✓[/green]" if ok else "[red]✗[/red]"


@app.command()
def status() -> None:
    """Health of the Prefect server and every connector; dead runs and what they left behind
    (stuck items, zombie runs, global slots held while nothing runs); each service's backlog.
    Exits 1 when anything is red."""
    from hub.health import check_all
    from hub.ledger import Ledger
    from hub.recovery import check_liveness

    _use_prefect()
    ledger = _ledger()
    with console.status("checking connectors and flow runs…"):
        checks = asyncio.run(check_all())
        liveness = asyncio.run(check_liveness(ledger))
    health = Table(title="Health")
    for column in ("", "part", "latency ms", "detail"):
        health.add_column(column)
    for name, h in checks.items():
        health.add_row(_mark(h.ok), name, f"{h.latency_ms:.0f}", h.detail[:80])
    console.print(health)
    if liveness.error:
        console.print(f"{_mark(False)} Dead runs: Prefect could not be asked ({liveness.error}).")
    elif liveness.ok:
        console.print(f"{_mark(True)} Dead runs: none — {liveness.running} run(s) running, no stuck item, "
                      "no zombie run, no global slot held while nothing runs.")
    for problem in liveness.problems():
        console.print(f"{_mark(False)} {problem}")
    items = ledger.items(limit=None)
    backlog = Table(title="Backlog per service")
    for column in ("service", "pending", "running", "stuck", "waiting", "failed (dead letters)", "done",
                   "oldest open"):
        # A service's name is never cut short; the counts wrap in a narrow terminal instead.
        backlog.add_column(column, no_wrap=column == "service", min_width=len("onboarding") if column == "service" else None)
    for service in sorted({i.service for i in items}):
        mine = [i for i in items if i.service == service]
        states = Counter(i.state for i in mine)
        stuck = sum(Ledger.is_stuck(i) for i in mine)
        open_items = [i for i in mine if i.state in ItemState.OPEN]
        oldest = min((i.requested_at for i in open_items), default=None)
        backlog.add_row(service, str(states.get("pending", 0)), str(states.get("running", 0) - stuck),
                        f"[red]{stuck}[/red]" if stuck else "0",
                        *(str(states.get(s, 0)) for s in ("waiting", "failed", "done")), _when(oldest))
    console.print(backlog)
    waiting = ledger.undispatched(older_than=timedelta(0))
    console.print(f"Inbox: {len(waiting)} event(s) not yet handed to Prefect."
                  + (" The intake's sweeper retries them; is the Prefect server up?" if waiting else ""))
    if not all(h.ok for h in checks.values()) or not liveness.ok or liveness.error:
        raise typer.Exit(1)


def _explain(item: Any, stuck: bool) -> str:
    if stuck:
        redrives = int((item.data or {}).get("redrives", 0))
        return (f"stuck: its run {item.flow_run_id or '?'} died (lease expired {_when(item.lease_until)}); "
                f"re-driven {redrives} time(s) so far. redrive-stuck starts it again, or `hub replay {item.id}`.")
    return str(item.last_error or "")[:160]


@app.command()
def items(service: Annotated[str | None, typer.Option(help="Only this service")] = None,
          state: Annotated[list[str] | None, typer.Option(help="Only these states (repeatable)")] = None,
          stuck: Annotated[bool, typer.Option("--stuck", help="Only stuck items (running, but their run died)")]
          = False,
          days: Annotated[int | None, typer.Option(help="Only items requested in the last N days")] = None,
          limit: Annotated[int, typer.Option(help="At most this many")] = 50,
          as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output")] = False) -> None:
    """List work items, newest first. Dead letters: --state failed; items whose run died: --stuck."""
    from hub.ledger import Ledger

    since = datetime.now(OSLO) - timedelta(days=days) if days else None
    ledger = _ledger()
    rows = (ledger.stuck_items(limit=limit) if stuck
            else ledger.items(service=service, states=state, since=since, limit=limit))
    if stuck and service:
        rows = [i for i in rows if i.service == service]
    marks = {i.id: Ledger.is_stuck(i) for i in rows}
    if as_json:
        console.print_json(json.dumps([{"id": i.id, "service": i.service, "key": i.source_key, "state": i.state,
                                        "stuck": marks[i.id], "attempts": i.attempts,
                                        "redrives": int((i.data or {}).get("redrives", 0)),
                                        "requested": _when(i.requested_at), "flow_run": i.flow_run_id,
                                        "error": i.last_error} for i in rows]))
        return
    table = Table(title=f"{len(rows)} work item(s)")
    for column in ("id", "service", "key", "state", "tries", "requested", "last error / waiting for"):
        table.add_column(column, overflow="fold")
    for i in rows:
        shown = "stuck" if marks[i.id] else i.state
        colour = {"failed": "red", "stuck": "red", "done": "green", "waiting": "yellow"}.get(shown, "white")
        table.add_row(str(i.id), i.service, i.source_key, f"[{colour}]{shown}[/{colour}]", str(i.attempts),
                      _when(i.requested_at), _explain(i, marks[i.id]))
    console.print(table)


@app.command()
def replay(item_ids: Annotated[list[int] | None, typer.Argument(help="Work item ids (see `hub items`)")] = None,
           service: Annotated[str | None, typer.Option(help="With --all-failed: this service")] = None,
           all_failed: Annotated[bool, typer.Option("--all-failed", help="Every failed item (of --service)")] = False,
           all_stuck: Annotated[bool, typer.Option("--all-stuck", help="Every stuck item (of --service): "
                                                   "running, but its run died")] = False,
           yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask")] = False) -> None:
    """Replay dead letters after the cause is fixed, or stuck items whose run died. Items that
    completed meanwhile, or whose run is still alive, are skipped."""
    from hub.replay import replay_items

    ledger = _ledger()
    ids = list(item_ids or [])
    if all_failed:
        ids += [i.id for i in ledger.items(service=service, states=[ItemState.FAILED], limit=None)]
    if all_stuck:
        ids += [i.id for i in ledger.stuck_items(limit=None) if service in (None, i.service)]
    if not ids:
        console.print("Nothing to replay: give item ids, or --all-failed / --all-stuck [--service S].")
        raise typer.Exit(2)
    if not yes and not typer.confirm(f"Replay {len(ids)} item(s)?"):
        raise typer.Exit(1)
    _use_prefect()
    results = []
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
                  "{task.total}"), console=console) as progress:
        task = progress.add_task("replaying", total=len(ids))
        for item_id in ids:
            results += asyncio.run(replay_items(ledger, [item_id]))
            progress.advance(task)
    table = Table(title="Replay")
    for column in ("item", "service", "key", "outcome", "flow run"):
        table.add_column(column)
    for r in results:
        table.add_row(str(r.item_id), r.service, r.source_key, r.outcome, r.flow_run_id or "-")
    console.print(table)


@events_app.command("send")
def events_send(employee_id: Annotated[str, typer.Argument(help="DFØ employee id")],
                gyldig_etter: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default today)")] = None,
                uri: Annotated[str, typer.Option(help="dfo:ansatte or dfo:stillinger")] = "dfo:ansatte") -> None:
    """Send a signed HR event to the intake, exactly as DFØ would."""
    import httpx

    from hub.hr_events import announce

    settings = get_settings()
    url = f"http://{settings.intake.host}:{settings.intake.port}/events/hr"
    when = gyldig_etter or date.today().isoformat()
    try:
        # Signed with the first active secret (HUB_INTAKE__HMAC_SECRETS[0], else HUB_INTAKE__HMAC_SECRET).
        response = announce(url, settings.intake.active_secrets()[:1], employee_id, when, uri)
    except httpx.HTTPError as exc:
        console.print(f"[red]the intake at {url} cannot be reached[/red] ({exc.__class__.__name__}). "
                      "Is the hub running (scripts/demo.sh)?")
        raise typer.Exit(1) from exc
    colour = "green" if response.status_code < 300 else "red"
    console.print(f"[{colour}]{response.status_code}[/{colour}] {response.text}")
    raise typer.Exit(0 if response.status_code < 300 else 1)


@app.command()
def doctor() -> None:
    """Check configuration and connectivity; for each problem, say what to fix."""
    from hub.doctor import run_checks

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True) as progress:
        task = progress.add_task("checking…", total=None)
        checks = asyncio.run(run_checks(lambda what: progress.update(task, description=f"checking {what}…")))
    table = Table(title="hub doctor")
    for column in ("", "check", "finding", "what to do"):
        table.add_column(column, overflow="fold")
    for check in checks:
        table.add_row(_mark(check.ok), check.name, check.detail, check.fix if not check.ok else "")
    console.print(table)
    failed = [c for c in checks if not c.ok]
    console.print("[green]All good.[/green]" if not failed else f"[red]{len(failed)} problem(s).[/red]")
    raise typer.Exit(1 if failed else 0)


if __name__ == "__main__":
    app()
