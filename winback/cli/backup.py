"""``winback backup`` and ``winback restore``: the whole database to a file and back."""

from __future__ import annotations

from typing import Annotated

import typer

from winback.cli.common import say


def backup_cmd(
    to: Annotated[str | None, typer.Option("--to", help="Backup file (default: data dir/backups/).")] = None,
) -> None:
    """Back up the database (SQLite online backup, or pg_dump for PostgreSQL)."""
    from datetime import datetime
    from pathlib import Path

    from winback import backup
    from winback.config import get_settings

    settings = get_settings()
    target = (
        Path(to) if to else backup.default_target(settings.database_url, settings.data_dir, datetime.now())
    )
    done = backup.backup(url=settings.database_url, target=target)
    typer.echo(say("backup written: {file} ({size} KiB)", file=done, size=done.stat().st_size // 1024))


def restore_cmd(source: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Replace the database with a backup (stop `winback serve` and the workers first)."""
    from pathlib import Path

    from winback import backup
    from winback.config import get_settings

    if not yes and not typer.confirm(say("This replaces every row of the database with the backup. Go on?")):
        raise typer.Exit(1)
    backup.restore(url=get_settings().database_url, source=Path(source))
    typer.echo(say("restored from {source}", source=source))
