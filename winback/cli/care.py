"""``winback care``: the care calendar (reminders before the red line)."""

from __future__ import annotations

from typing import Annotated

import typer

from winback.cli.common import AsOf, describe, say, set_clock

care_app = typer.Typer(no_args_is_help=True, help="The care calendar (reminders before the red line).")


@care_app.command("plan")
def care_plan(
    as_of: AsOf = None, store: Annotated[str | None, typer.Option(help="Store code.")] = None
) -> None:
    """One pass of the daily care flow (items, reminders, calls, fulfilment)."""
    from flows.launcher import launch

    as_of = set_clock(as_of)
    if store:
        _store_id(store)
    launched = launch("plan_care", {"store_codes": [store] if store else None, "as_of": as_of}, wait=True)
    typer.echo(say("care planned: {run}", run=describe(launched)))
    print_care(store, due_within=None)


@care_app.command("list")
def care_list(
    due_within: Annotated[int, typer.Option("--due-within", min=0, max=3650, help="Days ahead.")] = 7,
    store: Annotated[str | None, typer.Option(help="Store code.")] = None,
    as_of: AsOf = None,
) -> None:
    """The open care items due within DAYS (overdue included), soonest first."""
    set_clock(as_of)
    print_care(store, due_within=due_within)


def _store_id(code: str) -> int:
    from db.session import session_scope
    from winback.accounts import service as accounts

    with session_scope() as session:
        return accounts.get_store(session=session, code=code).id


def print_care(store: str | None, due_within: int | None) -> None:
    from db.session import session_scope
    from winback.accounts import service as accounts
    from winback.care import lists
    from winback.care.models import CareStatus

    with session_scope() as session:
        stores = (
            [accounts.get_store(session=session, code=store)]
            if store
            else accounts.list_stores(session=session)
        )
        ids = [s.id for s in stores]
        if due_within is None:
            pg = lists.items_page(session=session, store_ids=ids, view="today", page_size=10_000)
            waiting = lists.pending_exports(session=session, store_ids=ids)
            typer.echo(
                say("touches planned today: {n}, exports waiting: {waiting}", n=pg.total, waiting=waiting)
            )
            return
        pg = lists.items_page(
            session=session,
            store_ids=ids,
            status=CareStatus.open,
            due_within_days=due_within,
            page_size=10_000,
        )
        for r in pg.items:
            touch = f"{r.touch.channel.value}/{r.touch.status.value}" if r.touch else "-"
            holdout = " holdout" if r.item.holdout else ""
            typer.echo(
                f"{r.item.due_on}  {r.item.kind.value:<16} {r.vehicle.plate or r.vehicle.vin:<10} "
                f"{r.customer.name:<8} basis={r.item.basis:<8} touch={touch}{holdout}"
            )
        typer.echo(say("{n} open care items due within {days} days", n=pg.total, days=due_within))
