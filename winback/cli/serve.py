"""``winback serve`` (the web UI and the API) and ``winback demo`` (a demo store, its cycle, then serve)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from winback.cli.care import print_care
from winback.cli.common import AsOf, fail, keep_demo_clock, say, set_clock
from winback.cli.cycle import print_status


def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Default: $PORT or 8000.")] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Processes serving requests. Default: $WINBACK_WEB_WORKERS or 1."),
    ] = None,
) -> None:
    """Serve the web UI and the JSON API (and, on the embedded default, a local Prefect
    server with its UI that the CLI's commands reuse while this runs)."""
    from flows import prefect_server
    from flows.launcher import quiet_prefect
    from winback.cli import web_workers
    from winback.config import get_settings

    quiet_prefect()
    port = port or int(os.environ.get("PORT", "8000"))
    try:  # before the Prefect server starts: a port in use is told at once, in one line
        web_workers.check_free(host, port)
    except web_workers.PortTaken:
        fail(say("port {port} is already in use; choose another with --port or PORT", port=port))
    ui = prefect_server.serve_local()
    if ui is not None:
        typer.echo(say("Prefect server and UI: {url}", url=ui))
    typer.echo(say("winback is serving on {url}  (Ctrl+C stops it)", url=f"http://{host}:{port}"))
    failed = web_workers.serve(host=host, port=port, workers=workers or get_settings().web_workers)
    if failed is not None:  # its own error is in the output above
        fail(say("a web process stopped while starting (exit code {code}); see its error above", code=failed))


def demo(
    serve_ui: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the web UI afterwards.")] = True,
    port: Annotated[int | None, typer.Option()] = None,
    as_of: AsOf = None,
) -> None:
    """Create the database, load the demo store, run this month's cycle, serve the UI."""
    import time

    # before the heavier imports: a typo is told at once; kept as the demo clock after the upgrade
    requested, as_of = as_of, set_clock(as_of, persist=False)

    from db.migrate import upgrade
    from db.session import session_scope
    from flows.launcher import launch, quiet_prefect
    from winback import clock
    from winback.demo import ACCOUNTS, DEMO_PASSWORD, STORE_CODE, load_demo

    quiet_prefect()
    started = time.monotonic()
    if serve_ui:  # the server the cycle runs on is the one the UI then shows
        from flows import prefect_server

        prefect_server.serve_local()
    typer.echo(say("1/3 creating the database (alembic upgrade) ..."))
    upgrade()
    if requested:
        keep_demo_clock(clock.now())
    typer.echo(say("2/3 loading the demo store ..."))
    with session_scope() as session:
        load_demo(session=session)
    month = clock.today().strftime("%Y-%m")
    typer.echo(
        say(
            "3/3 running the {month} monthly cycle through Prefect (cleanup, screening, profiles, survey tasks) ...",
            month=month,
        )
    )
    launch("monthly_cycle", {"month": month, "store_codes": [STORE_CODE], "as_of": as_of}, wait=True)
    print_status([STORE_CODE])
    launch("plan_care", {"store_codes": [STORE_CODE], "as_of": as_of}, wait=True)
    print_care(STORE_CODE, due_within=None)
    typer.echo(say("ready in {seconds} s", seconds=f"{time.monotonic() - started:.0f}") + "\n")
    typer.echo(say("demo accounts (password for all: {password}):", password=DEMO_PASSWORD))
    for acc in ACCOUNTS:
        if acc.active:
            typer.echo(f"  {acc.username:<11} {', '.join(r.value for r in acc.roles):<11} {acc.name}")
    if serve_ui:
        serve(host="127.0.0.1", port=port)
