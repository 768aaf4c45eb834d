"""``python -m devtools``: the developer's command line, beside the operator's ``hub``.

    python -m devtools new connector NAME   scaffold a connector (see docs/adding-a-connector.md)

The demo is ``python -m devtools.demo`` (``scripts/demo.sh``). This lives outside the product
wheel, with the sandboxes the demo starts.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="Developer tools for the OsloMet tjenesteplattform hub.", no_args_is_help=True,
                  pretty_exceptions_show_locals=False)
new_app = typer.Typer(help="Scaffold new parts of the hub.", no_args_is_help=True)
app.add_typer(new_app, name="new")
console = Console()


@new_app.command("connector")
def new_connector(name: Annotated[str, typer.Argument(help="Package name, e.g. servicenow")],
                  port: Annotated[str, typer.Option(help="hr, archive, ticketing, forms, mail or calendar")],
                  force: Annotated[bool, typer.Option(help="Overwrite existing files")] = False) -> None:
    """Scaffold connectors/NAME (config, client, models), a sandbox stub, the registration and a
    contract test to fill in."""
    from devtools.scaffold import scaffold_connector

    try:
        written = scaffold_connector(name, port, force=force)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    for path in written:
        console.print(f"  wrote {path}")
    console.print(f"Next: follow docs/adding-a-connector.md; `pytest tests/contract -k {name}` shows what "
                  "is still to do.")


if __name__ == "__main__":
    app()
