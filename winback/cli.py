"""The ``winback`` command. Errors print one line on stderr and exit non-zero, never a traceback."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated

import typer

from winback.i18n import N_

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
care_app = typer.Typer(no_args_is_help=True, help="The care calendar (reminders before the red line).")
app.add_typer(care_app, name="care")

AsOf = Annotated[
    str | None, typer.Option("--as-of", help="Business time, e.g. 2027-02-15T09:00 (also WINBACK_NOW).")
]


def cli_locale() -> str:
    """The language of the command's messages: ``--lang en``, else LC_ALL/LC_MESSAGES/LANG, else Chinese."""
    from winback.i18n import locale_from_env

    argv = sys.argv[1:]
    for i, arg in enumerate(argv):
        if arg.startswith("--lang="):
            return "en" if arg.split("=", 1)[1] == "en" else "zh"
        if arg == "--lang" and i + 1 < len(argv):
            return "en" if argv[i + 1] == "en" else "zh"
    return locale_from_env()


def _describe(launched) -> str:
    """A launched flow run in the command's language: its record, Prefect's id, its process."""
    text = say("flow run #{record}", record=launched.record_id)
    if launched.prefect_flow_run_id:
        text += " (Prefect " + launched.prefect_flow_run_id + ")"
    if launched.owner:  # technical detail: "process 1234 on host"
        text += ", " + launched.owner
    return text


def say(msgid: str, **params) -> str:
    """A line of the command in its language, from the one catalog (``winback.i18n``)."""
    from winback.i18n import translate

    return translate(msgid, cli_locale(), **params)


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"winback: error: {message}", err=True)
    raise typer.Exit(code)


@app.callback()
def _options(
    lang: Annotated[
        str | None,
        typer.Option("--lang", help="zh or en: the language of the messages (default: LANG, else zh)."),
    ] = None,
) -> None:
    # --lang before the command (winback --lang en cycle status) is read by cli_locale()
    return None


def _set_clock(as_of: str | None) -> str | None:
    from winback import clock

    if as_of:
        try:
            clock.set_now(as_of)
        except ValueError:
            fail(
                say(
                    "--as-of must be an ISO date or date-time such as 2027-02-15T09:00, not '{as_of}'",
                    as_of=as_of,
                )
            )
        os.environ["WINBACK_NOW"] = as_of
    return as_of or os.environ.get("WINBACK_NOW") or None


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
    as_of = _set_clock(as_of)

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
                run=_describe(launched),
            )
        )
        return
    typer.echo(
        say("monthly cycle {month} for {stores}: {run}", month=month, stores=who, run=_describe(launched))
    )
    if wait:
        _print_status([store] if store else None)


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
    _set_clock(as_of)

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
    _print_status([store] if store else None)


def _print_status(codes: list[str] | None) -> None:
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


@app.command("watch")
def watch(as_of: AsOf = None, store: Annotated[str | None, typer.Option()] = None) -> None:
    """One pass of the daily deadline watcher."""
    as_of = _set_clock(as_of)

    from flows.launcher import launch

    launched = launch(
        "watch_deadlines", {"store_codes": [store] if store else None, "as_of": as_of}, wait=True
    )
    if launched.reused:
        typer.echo(say("the watcher is already running as {run}", run=_describe(launched)))
        return
    typer.echo(say("watcher ran: {run}", run=_describe(launched)))
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
    typer.echo(say("backup written: {file} ({size} KiB)", file=done, size=done.stat().st_size // 1024))


@app.command("restore")
def restore_cmd(source: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False) -> None:
    """Replace the database with a backup (stop `winback serve` and the workers first)."""
    from pathlib import Path

    from winback import backup
    from winback.config import get_settings

    if not yes and not typer.confirm(say("This replaces every row of the database with the backup. Go on?")):
        raise typer.Exit(1)
    backup.restore(url=get_settings().database_url, source=Path(source))
    typer.echo(say("restored from {source}", source=source))


def _import(kind: str, file: str, store: str | None, as_of: str | None, lang: str | None = None) -> None:
    from pathlib import Path

    from db.session import session_scope
    from winback.accounts import service as accounts
    from winback.actor import Actor
    from winback.customers import import_reports
    from winback.customers.models import ImportStatus
    from winback.cycles import returns
    from winback.i18n import translator

    _set_clock(as_of)
    locale = lang if lang in ("zh", "en") else cli_locale()
    _ = translator(locale)

    path = Path(file)
    if not path.is_file():
        fail(say("no such file: {file}", file=file))
    with session_scope() as session:
        if store:
            target = accounts.get_store(session=session, code=store)
        else:
            stores = accounts.list_stores(session=session)
            if len(stores) != 1:
                fail(
                    say("say which store with --store CODE")
                    if stores
                    else say("there is no store yet; run `winback demo` first")
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
                _(
                    "{name}: already imported as import #{id} on {day}; nothing changed",
                    name=path.name,
                    id=batch.id,
                    day=f"{batch.started_at:%Y-%m-%d}",
                )
            )
            return
        if batch.status == ImportStatus.failed:
            message = f"{path.name}: {batch.message_text(locale)}"
        else:
            fmt = f"{batch.file_format}{', ' + batch.encoding if batch.encoding else ''}"
            counts = {
                "id": batch.id,
                "kind": _(kind),
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
                _(
                    "import #{id} {kind} {name} ({fmt}): {rows} rows: {new} new, {updated} updated, "
                    "{unchanged} unchanged, {failed} with errors",
                    **counts,
                )
                + (_("; {back} survey targets came back", **counts) if batch.returned_targets else "")
            )
            if batch.key_derived:
                typer.echo(_(import_reports.KEY_DERIVED))
            shown = import_reports.row_errors(session=session, batch_id=batch.id, limit=21)
            for e in shown[:20]:
                typer.echo(
                    _(
                        "  row {row}, {column}: {reason}",
                        row=e.row_number,
                        column=e.column,
                        reason=e.text(locale),
                    )
                    + (_(" ({value})", value=e.value) if e.value else "")
                )
            if len(shown) > 20:
                typer.echo(
                    _(
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
    from pathlib import Path

    if drop_dir is not None and not Path(drop_dir).is_dir():
        fail(say("--dir: no such folder: {path}", path=drop_dir))
    as_of = _set_clock(as_of)

    from flows.launcher import launch

    launched = launch("import_visits", {"drop_dir": drop_dir, "store_codes": None, "as_of": as_of}, wait=True)
    typer.echo(say("drop folder imported: {run}", run=_describe(launched)))


@care_app.command("plan")
def care_plan(
    as_of: AsOf = None, store: Annotated[str | None, typer.Option(help="Store code.")] = None
) -> None:
    """One pass of the daily care flow (items, reminders, calls, fulfilment)."""
    from flows.launcher import launch

    as_of = _set_clock(as_of)
    if store:
        _store_id(store)
    launched = launch("plan_care", {"store_codes": [store] if store else None, "as_of": as_of}, wait=True)
    typer.echo(say("care planned: {run}", run=_describe(launched)))
    _print_care(store, due_within=None)


@care_app.command("list")
def care_list(
    due_within: Annotated[int, typer.Option("--due-within", min=0, max=3650, help="Days ahead.")] = 7,
    store: Annotated[str | None, typer.Option(help="Store code.")] = None,
    as_of: AsOf = None,
) -> None:
    """The open care items due within DAYS (overdue included), soonest first."""
    _set_clock(as_of)
    _print_care(store, due_within=due_within)


def _store_id(code: str) -> int:
    from db.session import session_scope
    from winback.accounts import service as accounts

    with session_scope() as session:
        return accounts.get_store(session=session, code=code).id


def _print_care(store: str | None, due_within: int | None) -> None:
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


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Default: $PORT or 8000.")] = None,
) -> None:
    """Serve the web UI and the JSON API (and, on the embedded default, a local Prefect
    server with its UI that the CLI's commands reuse while this runs)."""
    import uvicorn

    from flows import prefect_server
    from flows.launcher import quiet_prefect

    quiet_prefect()
    port = port or int(os.environ.get("PORT", "8000"))
    ui = prefect_server.serve_local()
    if ui is not None:
        typer.echo(say("Prefect server and UI: {url}", url=ui))
    typer.echo(say("winback is serving on {url}  (Ctrl+C stops it)", url=f"http://{host}:{port}"))
    uvicorn.run("app:create_app", factory=True, host=host, port=port, log_level="warning")


@app.command("demo")
def demo(
    serve_ui: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the web UI afterwards.")] = True,
    port: Annotated[int | None, typer.Option()] = None,
    as_of: AsOf = None,
) -> None:
    """Create the database, load the demo store, run this month's cycle, serve the UI."""
    import time

    as_of = _set_clock(as_of)  # before the heavier imports: a typo is told at once

    from db.migrate import upgrade
    from db.session import session_scope
    from flows.launcher import launch, quiet_prefect
    from winback import clock
    from winback.demo import ACCOUNTS, DEMO_PASSWORD, STORE_CODE, load_demo

    quiet_prefect()
    started = time.monotonic()
    if serve_ui:  # the server the cycle runs on is the one the UI then shows
        from flows import prefect_server

        prefect_server.serve_local()
    typer.echo(say("1/3 creating the database (alembic upgrade) ..."))
    upgrade()
    typer.echo(say("2/3 loading the demo store ..."))
    with session_scope() as session:
        load_demo(session=session)
    month = clock.today().strftime("%Y-%m")
    typer.echo(
        say(
            "3/3 running the {month} monthly cycle through Prefect (cleanup, screening, profiles, survey tasks) ...",
            month=month,
        )
    )
    launch("monthly_cycle", {"month": month, "store_codes": [STORE_CODE], "as_of": as_of}, wait=True)
    _print_status([STORE_CODE])
    launch("plan_care", {"store_codes": [STORE_CODE], "as_of": as_of}, wait=True)
    _print_care(STORE_CODE, due_within=None)
    typer.echo(say("ready in {seconds} s", seconds=f"{time.monotonic() - started:.0f}") + "\n")
    typer.echo(say("demo accounts (password for all: {password}):", password=DEMO_PASSWORD))
    for acc in ACCOUNTS:
        if acc.active:
            typer.echo(f"  {acc.username:<11} {', '.join(r.value for r in acc.roles):<11} {acc.name}")
    if serve_ui:
        serve(host="127.0.0.1", port=port)


_USAGE_PATTERNS = (
    # Click's sentences that carry no structured fields, recognised to be told in the reader's language.
    (
        re.compile(r"^No such command '(?P<name>.*?)'\. Did you mean '(?P<guess>.*)'\?$"),
        N_("there is no command '{name}'; did you mean '{guess}'?"),
    ),
    (re.compile(r"^No such command '(?P<name>.*)'\.?$"), N_("there is no command '{name}'")),
    (
        re.compile(r"^Got unexpected extra argument(?:s|\(s\))? \((?P<args>.*)\)$"),
        N_("unexpected extra argument(s): {args}"),
    ),
)


def usage_message(exc: Exception) -> str:
    """A usage error of Click (bundled in typer) in the command's language: told from the error's
    kind and fields (which option, which value), not from Click's English sentence."""
    kind = type(exc).__name__
    param = getattr(exc, "param", None)
    if param is None:
        name = ""
    elif getattr(param, "param_type_name", "") == "argument":  # shown in the help as FILE
        name = str(param.name or "").upper()
    else:
        name = " / ".join(getattr(param, "opts", None) or [str(param.name or "")])
    text = " ".join((exc.format_message() if hasattr(exc, "format_message") else str(exc)).split())
    if kind == "NoSuchOption":
        return say("there is no option {option}", option=exc.option_name)
    if kind == "MissingParameter" and name:
        if getattr(param, "param_type_name", "") == "argument":
            return say("the argument {name} is missing", name=name)
        return say("the option {name} is missing", name=name)
    if kind == "BadOptionUsage":
        if "does not take a value" in text:
            return say("the option {option} takes no value", option=exc.option_name)
        return say("the option {option} needs a value", option=exc.option_name)
    if kind in ("BadParameter", "MissingParameter") and name:
        value = re.search(r"Value (?P<value>'.*?') is not a valid", getattr(exc, "message", "") or "")
        if value:
            return say("{name}: {value} is not a valid value", name=name, value=value["value"])
        return say("{name}: the value is not valid", name=name)
    for pattern, msgid in _USAGE_PATTERNS:
        m = pattern.match(getattr(exc, "message", "") or text)
        if m:
            return say(msgid, **m.groupdict())
    return text


def _log_exception(exc: BaseException) -> Path | None:
    """The traceback of an error the one-line message does not explain, kept for whoever supports the store."""
    import traceback

    from winback.config import get_settings

    log_file = get_settings().data_dir / "cli-errors.log"
    try:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with open(log_file, "a", encoding="utf-8") as fh:
            fh.write("".join(traceback.format_exception(exc)))
    except OSError:
        return None
    return log_file


def main() -> None:
    from winback.errors import DomainError

    try:
        # Not standalone: Click's usage errors come here, to be told in one line like any other.
        code = app(standalone_mode=False)
    except typer.Abort:
        typer.echo("winback: error: " + say("aborted"), err=True)
        sys.exit(1)
    except typer.TyperException as exc:  # Click's errors (typer bundles its own Click)
        ctx = getattr(exc, "ctx", None)
        path = ctx.command_path if ctx is not None else "winback"
        if type(exc).__name__ == "NoArgsIsHelpError":  # `winback`, `winback cycle`: typer showed the help
            message = say("a command is missing; see {path} --help", path=path)
        else:
            message = usage_message(exc) + (say(" (see {path} --help)", path=path) if ctx is not None else "")
        typer.echo(f"winback: error: {message}", err=True)
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    except DomainError as exc:
        typer.echo(f"winback: error: {exc.message.translate(cli_locale())}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # a CLI user gets one line; the details go to the log file
        from sqlalchemy.exc import OperationalError, SQLAlchemyError

        if isinstance(exc, SQLAlchemyError) and not isinstance(exc, OperationalError):
            # its text quotes the SQL and the row's values (names, phone numbers): a log file only
            log_file = _log_exception(exc)
            typer.echo(
                "winback: error: "
                + say("the database refused the change; nothing was saved")
                + (say(" (details in {log_file})", log_file=log_file) if log_file else ""),
                err=True,
            )
        elif isinstance(exc, OperationalError):
            typer.echo(
                "winback: error: "
                + say(
                    "the database is not reachable or not set up ({error}); "
                    "check WINBACK_DATABASE_URL and run `winback db upgrade`",
                    error=exc.orig,
                ),
                err=True,
            )
        else:
            log_file = _log_exception(exc)
            typer.echo(
                "winback: error: "
                + say(
                    "an unexpected error ({name}: {error})",
                    name=type(exc).__name__,
                    error=" ".join(str(exc).split()),
                )
                + (say(" (details in {log_file})", log_file=log_file) if log_file else ""),
                err=True,
            )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
