"""The ``winback`` command. Errors print one line on stderr and exit non-zero, never a traceback."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="winback: find lapsed customers, learn why, fix the causes, win them back.",
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
cycle_app = typer.Typer(no_args_is_help=True, help="The monthly cycle.")
store_app = typer.Typer(no_args_is_help=True, help="Stores and their settings.")
app.add_typer(db_app, name="db")
app.add_typer(cycle_app, name="cycle")
app.add_typer(store_app, name="store")
import_app = typer.Typer(
    no_args_is_help=True, help="Import DMS exports (XLSX or CSV): customers, vehicles, visits."
)
app.add_typer(import_app, name="import")
audit_app = typer.Typer(no_args_is_help=True, help="The audit trail.")
app.add_typer(audit_app, name="audit")

AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Business time, e.g. 2027-02-15T09:00 (also WINBACK_NOW).")
]


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"winback: error: {message}", err=True)
    raise typer.Exit(code)


def _set_clock(as_of: str | None) -> str | None:
    from winback import clock

    if as_of:
        try:
            clock.set_now(as_of)
        except ValueError:
            fail(f"--as-of must be an ISO date or date-time such as 2027-02-15T09:00, not {as_of!r}")
        os.environ["WINBACK_NOW"] = as_of
    return as_of or os.environ.get("WINBACK_NOW") or None


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema (Alembic) on WINBACK_DATABASE_URL."""
    from db.migrate import upgrade
    from winback.config import get_settings

    upgrade()
    typer.echo(f"database is up to date: {_safe_url(get_settings().database_url)}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@cycle_app.command("start")
def cycle_start(
    month: Annotated[str, typer.Option(help="YYYY-MM")],
    store: Annotated[str | None, typer.Option(help="Store code; all stores when left out.")] = None,
    wait: Annotated[bool, typer.Option(help="Wait for the flow to finish.")] = True,
    as_of: AsOf = None,
) -> None:
    """Start the monthly cycle: cleanup, screening, profiles, survey tasks."""
    from db.session import session_scope
    from flows.launcher import launch
    from winback.accounts import service as accounts
    from winback.cycles.service import parse_month

    as_of = _set_clock(as_of)
    parse_month(month)
    with session_scope() as session:
        stores = (
            [accounts.get_store(session=session, code=store)]
            if store
            else accounts.list_stores(session=session)
        )
        if not stores:
            fail("there is no store yet; run `winback demo` or create one")
        codes = [s.code for s in stores]
    launched = launch("monthly_cycle", {"month": month, "store_codes": codes, "as_of": as_of}, wait=wait)
    typer.echo(
        f"monthly cycle {month} for {', '.join(codes)}: flow run {launched.prefect_flow_run_id or '(starting)'}"
        f"{' (already running)' if launched.reused else ''}"
    )
    if wait:
        _print_status(codes)


@cycle_app.command("status")
def cycle_status(store: Annotated[str | None, typer.Option(help="Store code.")] = None) -> None:
    """Each cycle's stage, tasks and plan."""
    _print_status([store] if store else None)


def _print_status(codes: list[str] | None) -> None:
    from db.session import session_scope
    from winback.accounts import service as accounts
    from winback.cycles import service as cycles
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
            typer.echo("no cycles yet")
        for c in rows:
            board = surveys.progress(session=session, cycle_id=c.id)
            open_ = sum(b["open"] for b in board)
            closed = sum(b["done"] + b["unreachable"] for b in board)
            overdue = sum(b["overdue"] for b in board)
            plan = current_plan(session=session, cycle_id=c.id)
            typer.echo(
                f"{c.store.code} {c.month}  stage={c.stage.value:<10} tasks open={open_} closed={closed} "
                f"overdue={overdue}  plan={plan.status.value if plan else '-'}"
            )


@app.command("watch")
def watch(as_of: AsOf = None, store: Annotated[str | None, typer.Option()] = None) -> None:
    """One pass of the daily deadline watcher."""
    from flows.launcher import launch

    as_of = _set_clock(as_of)
    launched = launch(
        "watch_deadlines", {"store_codes": [store] if store else None, "as_of": as_of}, wait=True
    )
    typer.echo(f"watcher ran: flow run {launched.prefect_flow_run_id}")
    _print_status([store] if store else None)


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


@app.command("backup")
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
    typer.echo(f"backup written: {done} ({done.stat().st_size // 1024} KiB)")


@app.command("restore")
def restore_cmd(source: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Replace the database with a backup (stop `winback serve` and the workers first)."""
    from pathlib import Path

    from winback import backup
    from winback.config import get_settings

    if not yes and not typer.confirm("This replaces every row of the database with the backup. Go on?"):
        raise typer.Exit(1)
    backup.restore(url=get_settings().database_url, source=Path(source))
    typer.echo(f"restored from {source}")


def _import(kind: str, file: str, store: str | None, as_of: str | None, lang: str | None = None) -> None:
    from pathlib import Path

    from db.session import session_scope
    from winback.accounts import service as accounts
    from winback.actor import Actor
    from winback.customers import import_reports
    from winback.customers.import_errors import lang_from_env
    from winback.customers.models import ImportStatus
    from winback.cycles import returns

    _set_clock(as_of)
    locale = lang if lang in ("zh", "en") else lang_from_env(dict(os.environ))

    def say(zh: str, en: str, **params) -> str:
        return (en if locale == "en" else zh).format(**params)

    path = Path(file)
    if not path.is_file():
        fail(f"no such file: {file}")
    with session_scope() as session:
        if store:
            target = accounts.get_store(session=session, code=store)
        else:
            stores = accounts.list_stores(session=session)
            if len(stores) != 1:
                fail(
                    "say which store with --store CODE"
                    if stores
                    else "there is no store yet; run `winback demo` first"
                )
            target = stores[0]
        batch, is_new = returns.import_file(
            session=session,
            store_id=target.id,
            kind=kind,
            source=path,
            actor=Actor.system(label="cli import"),
        )
        if not is_new:
            typer.echo(
                say(
                    "{name}：已于 {day} 作为导入 #{id} 导入过，没有任何变化",
                    "{name}: already imported as import #{id} on {day}; nothing changed",
                    name=path.name,
                    id=batch.id,
                    day=f"{batch.started_at:%Y-%m-%d}",
                )
            )
            return
        if batch.status == ImportStatus.failed:
            message = f"{path.name}: {batch.message}"
        else:
            fmt = f"{batch.file_format}{', ' + batch.encoding if batch.encoding else ''}"
            counts = {
                "id": batch.id,
                "kind": kind,
                "name": path.name,
                "fmt": fmt,
                "rows": batch.rows_total,
                "new": batch.inserted,
                "updated": batch.updated,
                "unchanged": batch.unchanged,
                "failed": batch.failed,
                "back": batch.returned_targets,
            }
            typer.echo(
                say(
                    "导入 #{id} {kind} {name}（{fmt}）：{rows} 行：新增 {new}，更新 {updated}，未变 {unchanged}，"
                    "有错误 {failed}",
                    "import #{id} {kind} {name} ({fmt}): {rows} rows: {new} new, {updated} updated, "
                    "{unchanged} unchanged, {failed} with errors",
                    **counts,
                )
                + (
                    say("；{back} 位调查对象已回厂", "; {back} survey targets came back", **counts)
                    if batch.returned_targets
                    else ""
                )
            )
            for e in import_reports.row_errors(session=session, batch_id=batch.id, limit=20):
                typer.echo(
                    say(
                        "  第 {row} 行，{column}：{reason}",
                        "  row {row}, {column}: {reason}",
                        row=e.row_number,
                        column=e.column,
                        reason=e.text(locale),
                    )
                    + (say("（{value}）", " ({value})", value=e.value) if e.value else "")
                )
            if batch.failed > 20:
                typer.echo(
                    say(
                        "  ……还有更多；完整列表见导入页面（/archive/imports/{id}）",
                        "  ... and more; the full list is on the import page (/archive/imports/{id})",
                        id=batch.id,
                    )
                )
            return
    fail(message)  # after the session committed: the failed import stays on record


FileArg = Annotated[str, typer.Argument(help="XLSX, XLS or CSV (UTF-8, UTF-8 with BOM or GB18030/GBK).")]
StoreOpt = Annotated[str | None, typer.Option(help="Store code (needed when there are several stores).")]
LangOpt = Annotated[
    str | None, typer.Option("--lang", help="zh or en: the report's language (default: LANG, else zh).")
]


@import_app.command("customers")
def import_customers(file: FileArg, store: StoreOpt = None, as_of: AsOf = None, lang: LangOpt = None) -> None:
    """Customers (客户): 客户编号, 客户姓名, 手机, 性别, 出生日期/年龄, 地址, 区县, 客户类型."""
    _import("customers", file, store, as_of, lang)


@import_app.command("vehicles")
def import_vehicles(file: FileArg, store: StoreOpt = None, as_of: AsOf = None, lang: LangOpt = None) -> None:
    """Vehicles (车辆): 车架号/VIN, 车牌号, 车型, 购车日期, 客户编号 or 手机 (+ 客户姓名)."""
    _import("vehicles", file, store, as_of, lang)


@import_app.command("visits")
def import_visits(file: FileArg, store: StoreOpt = None, as_of: AsOf = None, lang: LangOpt = None) -> None:
    """Repair orders (维修工单): 工单号, 车架号/VIN or 车牌, 进厂日期, 里程, 维修类别, 维修项目, 金额, 服务顾问."""
    _import("visits", file, store, as_of, lang)


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


@import_app.command("inbox")
def import_inbox(
    drop_dir: Annotated[str | None, typer.Option("--dir", help="Default: <data dir>/inbox.")] = None,
    as_of: AsOf = None,
) -> None:
    """Import the repair orders waiting in the drop folder (<dir>/<STORE CODE>/*.csv|xlsx), now."""
    from flows.launcher import launch

    as_of = _set_clock(as_of)
    launched = launch("import_visits", {"drop_dir": drop_dir, "store_codes": None, "as_of": as_of}, wait=True)
    typer.echo(f"drop folder imported: flow run {launched.prefect_flow_run_id}")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Default: $PORT or 8000.")] = None,
) -> None:
    """Serve the web UI and the JSON API."""
    import uvicorn

    from flows.launcher import quiet_prefect

    quiet_prefect()
    port = port or int(os.environ.get("PORT", "8000"))
    typer.echo(f"winback is serving on http://{host}:{port}  (Ctrl+C stops it)")
    uvicorn.run("app:create_app", factory=True, host=host, port=port, log_level="warning")


@app.command("demo")
def demo(
    serve_ui: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the web UI afterwards.")] = True,
    port: Annotated[int | None, typer.Option()] = None,
    as_of: AsOf = None,
) -> None:
    """Create the database, load the demo store, run this month's cycle, serve the UI."""
    import time

    from db.migrate import upgrade
    from db.session import session_scope
    from flows.launcher import launch, quiet_prefect
    from winback import clock
    from winback.demo import ACCOUNTS, DEMO_PASSWORD, STORE_CODE, load_demo

    quiet_prefect()
    as_of = _set_clock(as_of)
    started = time.monotonic()
    typer.echo("1/3 creating the database (alembic upgrade) ...")
    upgrade()
    typer.echo("2/3 loading the demo store ...")
    with session_scope() as session:
        load_demo(session=session)
    month = clock.today().strftime("%Y-%m")
    typer.echo(
        f"3/3 running the {month} monthly cycle through Prefect (cleanup, screening, profiles, survey tasks) ..."
    )
    launch("monthly_cycle", {"month": month, "store_codes": [STORE_CODE], "as_of": as_of}, wait=True)
    _print_status([STORE_CODE])
    typer.echo(f"ready in {time.monotonic() - started:.0f} s\n")
    typer.echo(f"demo accounts (password for all: {DEMO_PASSWORD}):")
    for acc in ACCOUNTS:
        if acc.active:
            typer.echo(f"  {acc.username:<11} {', '.join(r.value for r in acc.roles):<11} {acc.name}")
    if serve_ui:
        serve(host="127.0.0.1", port=port)


def main() -> None:
    from winback.errors import DomainError

    try:
        app()
    except DomainError as exc:
        typer.echo(f"winback: error: {exc.message}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a CLI user gets one line; the details go to the log file
        from sqlalchemy.exc import OperationalError

        if isinstance(exc, OperationalError):
            typer.echo(
                f"winback: error: the database is not reachable or not set up ({exc.orig}); "
                "check WINBACK_DATABASE_URL and run `winback db upgrade`",
                err=True,
            )
        else:
            typer.echo(f"winback: error: {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
