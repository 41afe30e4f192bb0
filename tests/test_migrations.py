"""The migrations build the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import db.migrate
import db.session
import winback.models  # noqa: F401  (every table in the metadata)
from db.base import Base


def test_upgrade_from_empty_reaches_head_with_every_table(db_url):
    engine = db.session.get_engine()
    head = ScriptDirectory.from_config(db.migrate.alembic_config(db_url)).get_current_head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        tables = set(inspect(conn).get_table_names())
    assert head is not None
    assert current == head
    expected = set(Base.metadata.tables)
    assert len(expected) >= 15
    assert expected <= tables
    assert tables - expected == {"alembic_version"}


def test_models_and_migrations_agree(db_url):
    """Autogenerate against the migrated database finds nothing to do."""
    engine = db.session.get_engine()
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "compare_server_default": True,
                "render_as_batch": conn.dialect.name == "sqlite",
            },
        )
        diff = compare_metadata(ctx, Base.metadata)
    # The alembic_version table is not in the metadata; autogenerate ignores it already.
    assert diff == [], "models and migrations differ:\n" + "\n".join(map(repr, diff))


def test_upgrade_is_idempotent(db_url):
    """Running ``upgrade`` on a database already at head changes nothing."""
    db.migrate.upgrade(db_url)
    engine = db.session.get_engine()
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is not None
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []


def test_task_sort_keys_are_backfilled_from_the_targets(db_url, session, surveying_cycle):
    """0010 copies each task's band and total spend from its target: going down to 0007 and
    up again over real surveys gives every task its target's values."""
    from alembic import command
    from sqlalchemy import text

    session.close()
    cfg = db.migrate.alembic_config(db_url)
    command.downgrade(cfg, "0007")
    with db.session.get_engine().connect() as conn:
        assert "band" not in {c["name"] for c in inspect(conn).get_columns("survey_tasks")}
    command.upgrade(cfg, "head")
    with db.session.get_engine().connect() as conn:
        rows = conn.execute(
            text(
                "SELECT t.band, t.total_spend, g.band, g.total_spend FROM survey_tasks t JOIN targets g ON g.id = t.target_id"
            )
        ).all()
    assert len(rows) > 10
    assert {r[0] for r in rows} >= {"at_risk", "lost"}
    assert all(r[0] == r[2] and r[1] == r[3] for r in rows)


def test_file_order_is_chain_order_and_no_migration_imports_the_application():
    """The revision files, sorted by name, are the chain from base to head (so reading them in
    order is reading the history); each imports only Alembic, SQLAlchemy, the standard
    library and ``db.base`` (column types), never ``winback`` code that moves on."""
    import ast
    import sys
    from pathlib import Path

    versions = Path(db.migrate.__file__).parent / "migrations" / "versions"
    files = sorted(versions.glob("*.py"))
    script = ScriptDirectory.from_config(db.migrate.alembic_config("sqlite://"))
    chain = [rev.revision for rev in reversed(list(script.walk_revisions()))]
    by_file = {Path(script.get_revision(rev).path).name: rev for rev in chain}
    assert [by_file[f.name] for f in files] == chain
    allowed = {"alembic", "sqlalchemy"} | set(sys.stdlib_module_names)
    for f in files:
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                assert name == "db.base" or name.split(".")[0] in allowed, f"{f.name} imports {name}"


def test_audit_chain_of_existing_events_is_built_by_0008(db_url, session, demo_store):
    """0008 chains the events recorded before it with its own copy of the hash: going down to
    0004 and up again over the demo store's events gives a trail ``audit verify`` finds intact."""
    from alembic import command

    from winback.audit.chain import verify

    session.close()
    cfg = db.migrate.alembic_config(db_url)
    command.downgrade(cfg, "0004")
    with db.session.get_engine().connect() as conn:
        assert "hash" not in {c["name"] for c in inspect(conn).get_columns("audit_events")}
    command.upgrade(cfg, "head")
    with db.session.new_session() as fresh:
        result = verify(session=fresh)
    assert result.ok and result.checked >= 5, result.line()
