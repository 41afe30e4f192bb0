"""``winback audit``: check the audit trail's hash chains."""

from __future__ import annotations

from typing import Annotated

import typer

audit_app = typer.Typer(no_args_is_help=True, help="The audit trail.")


@audit_app.command("verify")
def audit_verify(
    store: Annotated[str | None, typer.Option(help="Only this store's chain (code).")] = None,
) -> None:
    """Recompute the audit trail's hash chains; exit 1 and name the first bad event if broken."""
    from db.session import session_scope
    from winback.accounts import service as accounts
    from winback.audit import service as audit

    with session_scope() as session:
        ids = [accounts.get_store(session=session, code=store).id] if store else None
        result = audit.verify(session=session, store_ids=ids)
    typer.echo(result.line())
    if not result.ok:
        raise typer.Exit(1)
