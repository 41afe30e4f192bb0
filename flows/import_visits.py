"""Daily import of repair orders from a drop folder (the DMS exports there every night).

Layout: ``<drop_dir>/<STORE CODE>/*.csv|*.xlsx|*.xls``. Each file is imported for its store
(every row imported or reported, the original kept by its hash) and then moved to ``done/``
beside it, so the folder shows what is still waiting. Importing a file twice changes nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from prefect import flow, task

from flows.common import HOOKS, apply_as_of
from tasks import cycles
from tasks.imports import import_dropped_file

SUFFIXES = {".csv", ".xlsx", ".xls"}


def default_drop_dir() -> Path:
    from winback.config import get_settings

    return get_settings().data_dir / "inbox"


@task(name="list dropped files")
def dropped_files(drop_dir: str, store_ids: list[int]) -> list[tuple[int, str]]:
    from db.session import session_scope
    from winback.accounts.models import Store

    found = []
    with session_scope() as session:
        for store_id in store_ids:
            folder = Path(drop_dir) / session.get(Store, store_id).code
            if folder.is_dir():
                found += [
                    (store_id, str(p))
                    for p in sorted(folder.iterdir())
                    if p.is_file() and p.suffix.lower() in SUFFIXES
                ]
    return found


@flow(name="import_visits", flow_run_name="import visits from the drop folder", **HOOKS)
def import_visits(
    drop_dir: str | None = None, store_codes: list[str] | None = None, as_of: str | None = None
) -> list[dict]:
    apply_as_of(as_of)
    drop = str(drop_dir or default_drop_dir())
    results = []
    for store_id, path in dropped_files(drop, cycles.store_ids(store_codes)):
        results.append(import_dropped_file(store_id, "visits", path))
        done = Path(path).parent / "done"
        done.mkdir(exist_ok=True)
        shutil.move(path, done / Path(path).name)
    return results
