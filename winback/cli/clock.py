"""``winback clock``: the demo clock every process (web server included) reads."""

from __future__ import annotations

from typing import Annotated

import typer

from winback.cli.common import say, set_clock

clock_app = typer.Typer(
    no_args_is_help=True, help="The demo clock: business time moved for every process (web server included)."
)


@clock_app.command("show")
def clock_show() -> None:
    """The business time every process uses now, and whether it is a demo clock."""
    from winback import clock

    at = clock.stored()
    if at is None:
        typer.echo(say("real time: {at}", at=f"{clock.local(clock.now()):%Y-%m-%d %H:%M}"))
    else:
        typer.echo(
            say(
                "demo time: {at} (winback clock reset returns to real time)",
                at=f"{clock.local(at):%Y-%m-%d %H:%M}",
            )
        )


@clock_app.command("set")
def clock_set(
    at: Annotated[str, typer.Argument(help="ISO date or date-time, e.g. 2027-02-15T09:00.")],
) -> None:
    """Move business time for every process (CLI, web server, flows) to AT, for a demo."""
    from winback import clock

    set_clock(at)
    typer.echo(
        say(
            "demo time: {at} (winback clock reset returns to real time)",
            at=f"{clock.local(clock.now()):%Y-%m-%d %H:%M}",
        )
    )


@clock_app.command("reset")
def clock_reset() -> None:
    """Back to real time for every process (removes the demo clock)."""
    from db.session import session_scope
    from winback import democlock
    from winback.actor import Actor

    with session_scope() as session:
        democlock.reset_demo_clock(session=session, actor=Actor.system(label="cli"))
    typer.echo(say("the demo clock is off: every process runs on real time again"))
