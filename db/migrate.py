"""Run Alembic from code (``winback db upgrade``, the demo, the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parent


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("file_template", "%%(year)d-%%(month).2d-%%(day).2d_%%(rev)s_%%(slug)s")
    if url:
        cfg.attributes["url"] = url
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    if url is None:
        from winback.config import get_settings

        settings = get_settings()
        url = settings.database_url
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)
    # A schema change (a new index, a rebuilt table) deserves fresh statistics.
    from sqlalchemy import create_engine

    from db.session import refresh_statistics

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            refresh_statistics(conn)
    finally:
        engine.dispose()
