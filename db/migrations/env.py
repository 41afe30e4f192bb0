"""Alembic environment: runs migrations against the configured database URL."""

from __future__ import annotations

from alembic import context

import winback.models  # noqa: F401  (registers every table)
from db.base import Base
from db.session import configure

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url") or None
    engine = configure(url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


run_migrations_online()
