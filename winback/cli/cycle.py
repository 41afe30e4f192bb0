"""``winback cycle`` (start, cancel, status) and ``winback watch``, the daily deadline watcher."""

from __future__ import annotations

from typing import Annotated

import typer

from winback.cli.common import AsOf, describe, fail, say, set_clock

cycle_app = typer.Typer(no_args_is_help=True, help="The monthly cycle.")


@cycle_app.command("start")
def cycle_start(
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    store: Annotated[str | None, typer.Option(help="Store code; all stores when left out.")] = None,
    wait: Annotated[
        bool,
        typer.Option(
            help="Wait for the flow to finish; --no-wait runs it in the background (a process of "
            "its own, or a Prefect worker) and returns at once."
        ),
    ] = True,
    as_of: AsOf = None,
) -> None:
    """Start the monthly cycle: cleanup, screening, profiles, survey tasks."""
    from winback.months import parse_month

    month = parse_month(month)  # before the heavier imports: a typo is told at once
    as_of = set_clock(as_of)

    from db.session import session_scope
    from flows.launcher import launch
    from winback.accounts import service as accounts
    from winback.cycles import service as cycles

    with session_scope() as session:
        stores = (
            [accounts.get_store(session=session, code=store)]
            if store
            else accounts.list_stores(session=session)
        )
        if not stores:
            fail(say("there is no store yet; run `winback demo` or create one"))
        codes = [s.code for s in stores]
        for s in stores:  # a month far ahead or long past is told here, not by a failed flow
            cycles.check_month(session=session, store=s, month=month)
    # Without --store the run is for every store (None), so its key does not list the group.
    launched = launch(
        "monthly_cycle",
        {"month": month, "store_codes": [store] if store else None, "as_of": as_of},
        wait=wait,
        detach=not wait,
    )
    who = ", ".join(codes) if len(codes) <= 10 else say("{n} stores", n=len(codes))
    if launched.reused:
        typer.echo(
            say(
                "monthly cycle {month} for {stores}: already running as {run}",
                month=month,
                stores=who,
                run=describe(launched),
            )
        )
        return
    typer.echo(
        say("monthly cycle {month} for {stores}: {run}", month=month, stores=who, run=describe(launched))
    )
    if wait:
        print_status([store] if store else None)


@cycle_app.command("cancel")
def cycle_cancel(
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    store: Annotated[str, typer.Option(help="Store code.")],
    reason: Annotated[str, typer.Option(help="Why the cycle is cancelled (kept in the audit trail).")],
    as_of: AsOf = None,
) -> None:
    """Cancel a store's cycle before its surveys start (audited, with the reason)."""
    from winback.months import parse_month

    month = parse_month(month)
    set_clock(as_of)

    from db.session import session_scope
    from winback.accounts import service as accounts
    from winback.actor import Actor
    from winback.cycles import service as cycles

    with session_scope() as session:
        the_store = accounts.get_store(session=session, code=store)
        cycle = cycles.find_cycle(session=session, store_id=the_store.id, month=month)
        if cycle is None:
            fail(say("store {store} has no cycle for {month}", store=store, month=month))
        cycles.cancel_cycle(
            session=session, cycle_id=cycle.id, reason=reason, actor=Actor.system(label="cli")
        )
    typer.echo(say("cycle {month} of {store} cancelled", month=month, store=store))


@cycle_app.command("status")
def cycle_status(store: Annotated[str | None, typer.Option(help="Store code.")] = None) -> None:
    """Each cycle's stage, tasks and plan."""
    print_status([store] if store else None)


def print_status(codes: list[str] | None) -> None:
    from db.session import session_scope
    from winback.accounts import service as accounts
    from winback.cycles import service as cycles
    from winback.i18n import Message
    from winback.plans.service import current_plan
    from winback.surveys import service as surveys

    with session_scope() as session:
        stores = (
            [accounts.get_store(session=session, code=c) for c in codes]
            if codes
            else accounts.list_stores(session=session)
        )
        rows = cycles.cycles_page(session=session, store_ids=[s.id for s in stores]).items
        if not rows:
            typer.echo(say("no cycles yet"))
        for c in rows:
            board = surveys.progress(session=session, cycle_id=c.id)
            open_ = sum(b["open"] for b in board)
            closed = sum(b["done"] + b["unreachable"] for b in board)
            overdue = sum(b["overdue"] for b in board)
            plan = current_plan(session=session, cycle_id=c.id)
            typer.echo(
                say(
                    "{store} {month}  stage={stage} tasks open={open} closed={closed} overdue={overdue}  plan={plan}",
                    store=c.store.code,
                    month=c.month,
                    stage=Message(c.stage.value),
                    open=open_,
                    closed=closed,
                    overdue=overdue,
                    plan=Message(plan.status.value) if plan else "-",
                )
            )


def watch(as_of: AsOf = None, store: Annotated[str | None, typer.Option()] = None) -> None:
    """One pass of the daily deadline watcher."""
    as_of = set_clock(as_of)

    from flows.launcher import launch

    launched = launch(
        "watch_deadlines", {"store_codes": [store] if store else None, "as_of": as_of}, wait=True
    )
    if launched.reused:
        typer.echo(say("the watcher is already running as {run}", run=describe(launched)))
        return
    typer.echo(say("watcher ran: {run}", run=describe(launched)))
    print_status([store] if store else None)
