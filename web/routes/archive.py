"""The customer archive pages (admin): DMS upload with progress, import report, merge review,
data quality; vehicle flags and advisors' notes on the customer page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Request, UploadFile

from db.session import new_session
from edge import actions
from edge.locale import page_locale
from edge.session import SessionDep
from edge.uploads import saved_upload
from edge.users import CurrentUser, store_ids
from web import flash, forms, render
from web.routes.common import PAGE, fragment_or_page, is_htmx, list_url, safe_back
from web.routes.common import need as _need
from web.routes.common import see_other as _see_other
from winback.accounts.models import Role
from winback.actor import Actor
from winback.cases import arrivals
from winback.customers import (
    cleanup,
    findings,
    import_columns,
    import_reports,
    import_value_map,
    import_values,
    imports,
)
from winback.customers import merges as merge_proposals
from winback.customers import service as customers
from winback.customers.models import ImportKind, ImportStatus, NoteKind, VehicleStatus
from winback.customers.privacy import may_see_contact
from winback.errors import InvalidInput
from winback.i18n import N_, Message
from winback.surveys import service as surveys

router = APIRouter(include_in_schema=False)
MAX_UPLOAD = 512 * 1024 * 1024  # a DMS export of several years of repair orders stays well below


def run_import_in_background(batch_id: int, actor: Actor) -> None:
    """After the response: import in chunks, committing each so the report page shows progress."""
    session = new_session()
    try:
        arrivals.run_import(
            session=session, batch_id=batch_id, actor=actor, on_chunk=lambda _b: session.commit()
        )
        session.commit()
    except Exception:
        session.rollback()
        from winback.customers.models import ImportBatch

        batch = session.get(ImportBatch, batch_id)
        if batch is not None and batch.status == ImportStatus.running:
            batch.status, batch.message = (
                ImportStatus.failed,
                Message("the import stopped on an unexpected error; see the log").stored(),
            )
            session.commit()
        raise
    finally:
        session.close()


def _mapping_text(mapping: dict[str, str]) -> str:
    return "\n".join(f"{h} = {f}" for h, f in mapping.items())


@router.get("/archive")
def archive_home(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    q: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
):
    return _archive_page(request, user, session, q=q, page=page)


@router.get("/archive/customers")
def customer_list(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    q: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
):
    """Find a customer in the archive by name, DMS code, plate, VIN (and phone for those who see phones)."""
    _need(user, Role.admin, Role.manager, Role.auditor)
    rows = customers.customers_page(
        session=session,
        store_ids=store_ids(user),
        search=q,
        page=page,
        page_size=PAGE,
        by_phone=may_see_contact(user),
    )
    return render(request, "archive/customers.html", user=user, customers=rows, q=q)


# The closed-list fields a store may give its own words for, as the page names them.
VALUE_FIELDS = {
    "customer_type": N_("customer type"),
    "gender": N_("gender"),
    "grade": N_("grade"),
    "category": N_("repair-order category"),
}


def _archive_page(
    request: Request,
    user,
    session,
    mapping_form=None,
    mapping_error: str | None = None,
    value_form=None,
    value_error: str | None = None,
    status_code: int = 200,
    q: str = "",
    page: int = 1,
):
    _need(user, Role.admin, Role.manager, Role.auditor)
    mappings = {
        k.value: _mapping_text(
            import_columns.get_column_mapping(session=session, store_id=user.store_id, kind=k)
        )
        for k in ImportKind
    }
    if mapping_form:
        mappings.update(mapping_form)
    saved_values = import_value_map.get_value_mappings(session=session, store_id=user.store_id)
    value_mappings = {f: _mapping_text(saved_values.get(f, {})) for f in VALUE_FIELDS}
    if value_form:
        value_mappings.update(value_form)
    return render(
        request,
        "archive/index.html",
        user=user,
        kinds=list(ImportKind),
        status_code=status_code,
        mappings=mappings,
        mapping_error=mapping_error,
        value_fields=VALUE_FIELDS,
        value_words={f: [str(w[0]) for w in import_values.VALUE_WORDS[f].values()] for f in VALUE_FIELDS},
        value_mappings=value_mappings,
        value_error=value_error,
        fields=import_columns.HEADERS,
        labels={**import_columns.FIELD_LABELS, "vin_check_digit": N_("VIN check digit")},
        quality=cleanup.data_quality(session=session, store_id=user.store_id),
        trend=cleanup.quality_trend(session=session, store_id=user.store_id),
        q=q,
        list_url=list_url(request, "/archive"),
        batches=import_reports.batches_page(
            session=session, store_id=user.store_id, search=q, page=page, page_size=PAGE
        ),
    )


def _pairs(text: str) -> tuple[dict[str, str], int | None]:
    """Lines ``left = right`` of a mapping textarea (blank lines skipped): the pairs, and the
    number of the first line that is not one (None when all are)."""
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        left, sep, right = line.partition("=")
        if not sep or not left.strip() or not right.strip():
            return pairs, number
        pairs[left.strip()] = right.strip()
    return pairs, None


def _mapping_again(request, user, session, *, error, status, form, **_params):
    kind, mapping = form.get("kind", ""), form.get("mapping", "")
    return _archive_page(
        request, user, session, mapping_form={kind: mapping}, status_code=422, mapping_error=error
    )


@router.post("/archive/mappings")
@forms.form(_mapping_again)
def save_mapping(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    kind: Annotated[str, Form()] = "",
    mapping: Annotated[str, Form()] = "",
):
    """Lines like ``档案号 = dms_code``: this store's own column headers for a kind of file."""
    _need(user, Role.admin)
    if kind not in ImportKind.__members__:
        raise forms.FormError("choose what the file holds")
    parsed, bad_line = _pairs(mapping)
    if bad_line:
        raise InvalidInput("line {number}: write it as column name = field", number=bad_line, field="mapping")
    import_columns.save_column_mapping(
        session=session,
        store_id=user.store_id,
        kind=ImportKind(kind),
        mapping=parsed,
        actor=Actor.person(user),
    )
    flash(request, "Column mapping saved.")
    return _see_other("/archive")


def _values_again(request, user, session, *, error, status, form, **_params):
    field, mapping = form.get("field", ""), form.get("mapping", "")
    return _archive_page(
        request, user, session, value_form={field: mapping}, status_code=422, value_error=error
    )


@router.post("/archive/value-mappings")
@forms.form(_values_again)
def save_value_mapping(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    field: Annotated[str, Form()] = "",
    mapping: Annotated[str, Form()] = "",
):
    """Lines like ``公车 = 单位用车``: this store's own words for a closed-list value."""
    _need(user, Role.admin)
    if field not in VALUE_FIELDS:
        raise forms.FormError("choose which values the words are for")
    parsed, bad_line = _pairs(mapping)
    if bad_line:
        raise InvalidInput(
            "line {number}: write it as your word = the value it means", number=bad_line, field="mapping"
        )
    import_value_map.save_value_mapping(
        session=session, store_id=user.store_id, field=field, mapping=parsed, actor=Actor.person(user)
    )
    flash(request, "Your words for the values are saved; they apply from the next import.")
    return _see_other("/archive#value-mappings")


@router.post("/archive/imports")
def upload(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    background: BackgroundTasks,
    kind: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
):
    _need(user, Role.admin)
    if kind not in {k.value for k in ImportKind} or file is None or not file.filename:
        flash(request, "Choose what the file holds and the file to import.", "error")
        return _see_other("/archive")
    with saved_upload(file) as path:
        if path.stat().st_size > MAX_UPLOAD:
            flash(request, "The file is larger than 512 MB; split it by year.", "error")
            return _see_other("/archive")
        actor = Actor.person(user)
        batch, is_new = imports.start_import(
            session=session,
            store_id=user.store_id,
            kind=kind,
            source=path,
            filename=file.filename,
            actor=actor,
        )
    if not is_new:
        flash(request, "This file was imported before; nothing changed.")
        return _see_other(f"/archive/imports/{batch.id}")
    # The background worker reads the batch in its own session: it must be committed first.
    session.commit()
    background.add_task(run_import_in_background, batch.id, actor)
    return _see_other(f"/archive/imports/{batch.id}")


@router.get("/archive/imports/{batch_id}")
def import_report(request: Request, batch_id: int, user: CurrentUser, session: SessionDep):
    return _import_report(request, batch_id, user, session, "archive/import.html")


@router.get("/archive/imports/{batch_id}/progress")
def import_progress(request: Request, batch_id: int, user: CurrentUser, session: SessionDep):
    """The report's live part (status, rows done of total, counts, row errors), polled by the
    page while the import runs; the whole page when asked for without htmx."""
    if is_htmx(request):
        response = _import_report(
            request, batch_id, user, session, "archive/_import_progress.html", fragment=True
        )
    else:
        response = _import_report(request, batch_id, user, session, "archive/import.html")
    return fragment_or_page(request, response)


def _import_report(request: Request, batch_id: int, user, session, template: str, fragment: bool = False):
    _need(user, Role.admin, Role.manager, Role.auditor)
    batch = import_reports.get_batch(session=session, batch_id=batch_id, store_ids=store_ids(user))
    return render(
        request,
        template,
        user=user,
        batch=batch,
        Status=ImportStatus,
        fragment=fragment,
        errors=import_reports.row_errors(session=session, batch_id=batch.id, limit=200),
        key_derived_note=import_reports.KEY_DERIVED,
    )


@router.get("/archive/imports/{batch_id}/errors.xlsx")
def import_errors(request: Request, batch_id: int, user: CurrentUser, session: SessionDep):
    """The row errors as XLSX in the reader's language."""
    _need(user, Role.admin, Role.manager, Role.auditor)
    return actions.import_errors_workbook(
        session=session,
        batch_id=batch_id,
        store_ids=store_ids(user),
        locale=page_locale(request, user),
        viewer=user,
    )


@router.post("/archive/cleanup")
def run_cleanup(request: Request, user: CurrentUser, session: SessionDep):
    _need(user, Role.admin)
    summary = cleanup.cleanup_archive(session=session, store_id=user.store_id, actor=Actor.person(user))
    flash(request, "Cleanup done.")
    request.session["cleanup"] = summary
    return _see_other("/archive/merges")


@router.get("/archive/merges")
def merges(
    request: Request,
    user: CurrentUser,
    session: SessionDep,
    q: str = "",
    page: Annotated[int, Query(ge=1)] = 1,
):
    _need(user, Role.admin)
    return render(
        request,
        "archive/merges.html",
        user=user,
        q=q,
        proposals=merge_proposals.merges_page(
            session=session, store_id=user.store_id, search=q, page=page, page_size=PAGE
        ),
        summary=request.session.pop("cleanup", None),
    )


@router.post("/archive/merges/{proposal_id}")
def decide_merge(
    request: Request,
    proposal_id: int,
    user: CurrentUser,
    session: SessionDep,
    decision: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
):
    _need(user, Role.admin)
    actor = Actor.person(user)
    if decision == "merge":
        merge_proposals.merge_customers(
            session=session, proposal_id=proposal_id, store_ids=store_ids(user), actor=actor
        )
        flash(request, "Merged.")
    elif decision == "reject":
        merge_proposals.reject_merge(
            session=session,
            proposal_id=proposal_id,
            store_ids=store_ids(user),
            actor=actor,
            note=note.strip()[:300] or None,
        )
        flash(request, "Kept apart.")
    else:
        raise InvalidInput("decision must be merge or reject", field="decision")
    return _see_other("/archive/merges")


def _vehicle_again(request, user, session, *, error, status, form, **_params):
    flash(request, error, "error")
    return _see_other(safe_back(form.get("back"), "/archive"))


@router.post("/vehicles/{vehicle_id}/status")
@forms.form(_vehicle_again)
def vehicle_status(
    request: Request,
    vehicle_id: int,
    user: CurrentUser,
    session: SessionDep,
    status: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "/archive",
):
    _need(user, Role.admin, Role.advisor, Role.supervisor)
    vehicle = customers.get_vehicle(session=session, vehicle_id=vehicle_id, store_ids=store_ids(user))
    surveys.require_customer_access(session=session, viewer=user, customer_id=vehicle.customer_id, write=True)
    if status not in VehicleStatus.__members__:
        raise forms.FormError("Choose a status.")
    v = findings.set_vehicle_status(
        session=session,
        vehicle_id=vehicle_id,
        status=VehicleStatus(status),
        note=note,
        actor=Actor.person(user),
        store_ids=store_ids(user),
    )
    flash(request, "Saved.")
    return _see_other(safe_back(back, f"/customers/{v.customer_id}"))


def _note_again(request, user, session, *, error, status, form, customer_id):
    flash(request, error, "error")
    request.session["note_draft"] = {"kind": form.get("kind", "other"), "text": form.get("text", "")}
    return _see_other(safe_back(form.get("back"), f"/customers/{int(customer_id)}"))


@router.post("/customers/{customer_id}/notes")
@forms.form(_note_again)
def add_note(
    request: Request,
    customer_id: int,
    user: CurrentUser,
    session: SessionDep,
    kind: Annotated[str, Form()] = "other",
    text: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
):
    customer = customers.get_customer(session=session, customer_id=customer_id, store_ids=store_ids(user))
    surveys.require_customer_access(session=session, viewer=user, customer_id=customer.id, write=True)
    findings.add_note(
        session=session,
        customer_id=customer.id,
        kind=kind,
        text=text,
        actor=Actor.person(user),
        store_ids=store_ids(user),
    )
    flash(request, "Saved to the customer's archive.")
    return _see_other(safe_back(back, f"/customers/{customer.id}"))


NOTE_KINDS = list(NoteKind)


def notes_context(request: Request, session, customer_id: int, back: str) -> dict:
    """What the notes partial (partials/customer_notes.html) needs; used by the task and customer pages."""
    return {
        "notes": findings.notes_of(session=session, customer_id=customer_id),
        "note_kinds": NOTE_KINDS,
        "back": back,
        "note_draft": request.session.pop("note_draft", None),
    }
