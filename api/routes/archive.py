"""JSON API: archive."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from api.deps import Admin, Reader, SessionDep, store_ids
from api.schemas import ImportBatchOut, QualityOut, ValueMappingsOut, VisitCreatedOut
from edge import actions
from edge.locale import api_locale
from edge.uploads import saved_upload
from edge.xlsx import XLSX_RESPONSES
from winback.actor import Actor
from winback.cases import arrivals
from winback.customers import (
    cleanup,
    contact_masking,
    import_cells,
    import_reports,
    import_value_map,
    import_values,
)
from winback.customers import service as customers
from winback.customers.import_reports import KEY_DERIVED
from winback.customers.models import ImportBatch, ImportKind
from winback.customers.schemas import ValueMappingIn, VisitIn
from winback.i18n import translate

router = APIRouter()


# ---- archive ----------------------------------------------------------------------------


@router.post("/visits", response_model=VisitCreatedOut, status_code=201, tags=["archive"])
def add_visit(body: VisitIn, user: Admin, session: SessionDep) -> dict[str, Any]:
    """Record a repair order (e.g. pushed by the DMS). The same RO number twice is one visit."""
    vehicle = customers.vehicle_by_vin(session=session, store_id=store_ids(user)[0], vin=body.vin)
    visit = customers.add_visit(
        session=session,
        store_id=store_ids(user)[0],
        vehicle_id=vehicle.id,
        ro_number=body.ro_number,
        visit_date=body.visit_date,
        category=body.category,
        amount=body.amount,
        mileage=body.mileage,
        items=body.items,
        actor=Actor.person(user),
    )
    return {"id": visit.id, "vehicle_id": vehicle.id, "customer_id": visit.customer_id}


def _batch_json(
    session, batch: ImportBatch, locale: str, viewer: Any, already: bool = False
) -> dict[str, Any]:
    """The import report; each row error's ``reason`` in the caller's language (English when
    nothing asks, like error details), ``reason_en`` in English and ``code`` its stable key."""
    return {
        "id": batch.id,
        "kind": batch.kind.value,
        "filename": batch.filename,
        "sha256": batch.sha256,
        "status": batch.status.value,
        "message": batch.message_text(locale),
        "message_en": batch.message_text("en"),
        "already_imported": already,
        "format": batch.file_format,
        "encoding": batch.encoding,
        "columns": batch.columns,
        "rows": batch.rows_total,
        "inserted": batch.inserted,
        "updated": batch.updated,
        "unchanged": batch.unchanged,
        "failed": batch.failed,
        "returned_targets": batch.returned_targets,
        "key_derived": batch.key_derived,
        "key_derived_note": translate(KEY_DERIVED, locale) if batch.key_derived else None,
        "errors": [
            {
                "row": e.row_number,
                "column": e.column,
                "code": e.code,
                "reason": e.text(locale),
                "reason_en": e.text("en"),
                "value": contact_masking.cell_for(e.value, (batch.columns or {}).get(e.column), viewer),
                "warning": import_cells.is_warning(e.reason),
            }
            for e in import_reports.row_errors(session=session, batch_id=batch.id, limit=1000)
        ],
    }


@router.post("/imports", response_model=ImportBatchOut, tags=["archive"])
def import_file(
    request: Request,
    user: Admin,
    session: SessionDep,
    kind: Annotated[ImportKind, Form()],
    file: Annotated[UploadFile, File()],
) -> dict[str, Any]:
    """Import a DMS export (XLSX/XLS/CSV) of customers, vehicles or visits; answers the report
    (``status`` failed with one ``message`` when the file is not a usable table)."""
    with saved_upload(file) as path:
        batch, is_new = arrivals.import_file(
            session=session,
            store_id=user.store_id,
            kind=kind,
            source=path,
            filename=file.filename or "upload",
            actor=Actor.person(user),
        )
    return _batch_json(session, batch, api_locale(request), user, already=not is_new)


@router.get("/imports/{batch_id}", response_model=ImportBatchOut, tags=["archive"])
def get_import(request: Request, batch_id: int, user: Reader, session: SessionDep) -> dict[str, Any]:
    return _batch_json(
        session,
        import_reports.get_batch(session=session, batch_id=batch_id, store_ids=store_ids(user)),
        api_locale(request),
        user,
    )


@router.get(
    "/imports/{batch_id}/errors.xlsx", tags=["archive"], responses=XLSX_RESPONSES, response_class=Response
)
def get_import_errors(request: Request, batch_id: int, user: Reader, session: SessionDep) -> Response:
    """The row errors as XLSX (row, column, reason, value) in the caller's language."""
    return actions.import_errors_workbook(
        session=session, batch_id=batch_id, store_ids=store_ids(user), locale=api_locale(request), viewer=user
    )


@router.get("/archive/quality", response_model=QualityOut, tags=["archive"])
def quality(user: Reader, session: SessionDep) -> dict[str, Any]:
    """Completeness of each field, invalid counts, duplicates pending."""
    return cleanup.data_quality(session=session, store_id=user.store_id)


def _value_mappings(session, store_id: int) -> dict[str, Any]:
    return {
        "mappings": import_value_map.get_value_mappings(session=session, store_id=store_id),
        "fields": {f: [str(w[0]) for w in words.values()] for f, words in import_values.VALUE_WORDS.items()},
    }


@router.get("/archive/value-mappings", response_model=ValueMappingsOut, tags=["archive"])
def get_value_mappings(user: Reader, session: SessionDep) -> dict[str, Any]:
    """The store's own words for closed-list values (customer type, gender, grade, category)."""
    return _value_mappings(session, store_ids(user)[0])


@router.put("/archive/value-mappings/{field}", response_model=ValueMappingsOut, tags=["archive"])
def put_value_mapping(field: str, body: ValueMappingIn, user: Admin, session: SessionDep) -> dict[str, Any]:
    """Replace the store's words for ``field``: each maps to a value of the field's list (a value
    outside the list is refused here, so an import never fails on it); from the next import on."""
    import_value_map.save_value_mapping(
        session=session, store_id=user.store_id, field=field, mapping=body.mapping, actor=Actor.person(user)
    )
    return _value_mappings(session, user.store_id)
