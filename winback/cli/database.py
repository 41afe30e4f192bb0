"""``winback db``: the database schema."""

from __future__ import annotations

import typer

from winback.cli.common import say

db_app = typer.Typer(no_args_is_help=True, help="Database schema.")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema (Alembic) on WINBACK_DATABASE_URL."""
    from db.migrate import upgrade
    from winback.config import get_settings

    upgrade()
    typer.echo(say("database is up to date: {url}", url=_safe_url(get_settings().database_url)))


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
