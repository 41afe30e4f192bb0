"""``winback store``: create a store, show and override its settings."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from winback.cli.common import say

store_app = typer.Typer(no_args_is_help=True, help="Stores and their settings.")


@store_app.command("show")
def store_show(code: str) -> None:
    """A store's effective settings (defaults with its overrides)."""
    from db.session import session_scope
    from winback.accounts import service as accounts

    with session_scope() as session:
        store = accounts.get_store(session=session, code=code)
        typer.echo(json.dumps(accounts.effective_settings(store).model_dump(), indent=2))


@store_app.command("set")
def store_set(code: str, key: str, value: str) -> None:
    """Override one setting for one store, e.g. `winback store set S01 survey_deadline_days 10`."""
    from db.session import session_scope
    from winback.accounts import service as accounts
    from winback.actor import Actor

    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    with session_scope() as session:
        store = accounts.get_store(session=session, code=code)
        accounts.set_store_setting(
            session=session, store=store, key=key, value=parsed, actor=Actor.system(label="cli")
        )
    typer.echo(f"{code}: {key} = {parsed}")


@store_app.command("create")
def store_create(
    code: Annotated[str, typer.Argument(help="The store's code, e.g. S01 (letters, digits, - or _).")],
    name: Annotated[str, typer.Option("--name", help="The store's name.")],
) -> None:
    """Create a store with the default churn reasons and measure library (audited)."""
    from db.session import session_scope
    from winback import stores
    from winback.actor import Actor

    with session_scope() as session:
        store = stores.create_store(session=session, code=code, name=name, actor=Actor.system(label="cli"))
        typer.echo(say("store {code} created: {name}", code=store.code, name=store.name))
