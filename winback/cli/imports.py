"""``winback import``: DMS exports (customers, vehicles, repair orders) and the drop folder."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from winback.cli.common import AsOf, cli_locale, describe, fail, say, set_clock

import_app = typer.Typer(
    no_args_is_help=True, help="Import DMS exports (XLSX or CSV): customers, vehicles, visits."
)


def _import(kind: str, file: str, store: str | None, as_of: str | None, lang: str | None = None) -> None:
    """One DMS file into one store, then its report in the command's language (``--lang``)."""
    from db.session import session_scope
    from winback.actor import Actor
    from winback.cases import arrivals
    from winback.customers.models import ImportStatus
    from winback.i18n import translator

    set_clock(as_of)
    locale = lang if lang in ("zh", "en") else cli_locale()
    _ = translator(locale)

    path = Path(file)
    if not path.is_file():
        fail(say("no such file: {file}", file=file))
    with session_scope() as session:
        target = _target_store(session, store)
        batch, is_new = arrivals.import_file(
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
        if batch.status != ImportStatus.failed:
            _print_report(session, batch, kind=kind, name=path.name, locale=locale)
            return
        message = f"{path.name}: {batch.message_text(locale)}"
    fail(message)  # after the session committed: the failed import stays on record


def _target_store(session, code: str | None):
    """The store ``--store`` names, or the only one there is."""
    from winback.accounts import service as accounts

    if code:
        return accounts.get_store(session=session, code=code)
    stores = accounts.list_stores(session=session)
    if len(stores) != 1:
        fail(
            say("say which store with --store CODE")
            if stores
            else say("there is no store yet; run `winback demo` first")
        )
    return stores[0]


def _print_report(session, batch, *, kind: str, name: str, locale: str) -> None:
    """A finished import's counts and its first 20 row errors (the rest are on its page)."""
    from winback.customers import import_reports
    from winback.i18n import translator

    _ = translator(locale)
    fmt = f"{batch.file_format}{', ' + batch.encoding if batch.encoding else ''}"
    counts = {
        "id": batch.id,
        "kind": _(kind),
        "name": name,
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


@import_app.command("inbox")
def import_inbox(
    drop_dir: Annotated[str | None, typer.Option("--dir", help="Default: <data dir>/inbox.")] = None,
    as_of: AsOf = None,
) -> None:
    """Import the repair orders waiting in the drop folder (<dir>/<STORE CODE>/*.csv|xlsx), now."""
    if drop_dir is not None and not Path(drop_dir).is_dir():
        fail(say("--dir: no such folder: {path}", path=drop_dir))
    as_of = set_clock(as_of)

    from flows.launcher import launch

    launched = launch("import_visits", {"drop_dir": drop_dir, "store_codes": None, "as_of": as_of}, wait=True)
    typer.echo(say("drop folder imported: {run}", run=describe(launched)))
