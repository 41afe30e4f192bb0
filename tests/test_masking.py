"""Contact data stays masked everywhere for the roles that see it masked (issue 15, item 4).

An import changes a customer's phone and address; the audit keeps both full values. Then
every GET route of the app (pages, JSON API, XLSX downloads: enumerated from the app through
the access matrix's rules, so a new route is covered), plus the audit of that customer, is
read as the manager and the auditor: no customer's full phone number, nor the new address,
appears anywhere. The admin (who may see contact data) reads the full values."""

from __future__ import annotations

import tempfile
from io import BytesIO
from pathlib import Path

from openpyxl import load_workbook
from sqlalchemy import select

from tests.test_access_matrix import PASSWORD, RULES, _fill, world  # noqa: F401  (fixture)
from winback.actor import Actor
from winback.customers import imports
from winback.customers.models import Customer
from winback.customers.privacy import mask_phone
from winback.surveys import service as surveys
from winback.surveys.models import ContactMethod, SurveyTask

NEW_PHONE = "13912345678"
NEW_ADDRESS = "城东区幸福路88号3栋1201室"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _text(r) -> str:
    if r.headers.get("content-type", "").startswith(XLSX):
        wb = load_workbook(BytesIO(r.content))
        return "\n".join(
            str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None
        )
    return r.text


def _surfaces(world) -> list[str]:
    """Every GET route of the app with its ids filled, and the audit of the changed customer."""
    urls = []
    for key in RULES:
        method, path = key.split(" ", 1)
        if method == "GET":
            url = str(_fill(path, world, ""))
            if key == "GET /audit-lookup":
                url += f"?entity_type=customer&entity_id={world['customer']}"
            urls.append(url)
    urls += [
        f"/audit/customer/{world['customer']}",
        f"/api/audit/customer/{world['customer']}",
        "/audit?action=customer.updated_by_import",
        "/audit/export.xlsx?action=customer.updated_by_import",
        f"/cycles/{world['cycle']}/followup",
    ]
    return urls


def test_contact_data_is_masked_on_every_surface(world, session, staff):
    from fastapi.testclient import TestClient

    from app import create_app

    # the task's customer is surveyed (the follow-up page lists them) and an import changes
    # their phone and address
    task = session.get(SurveyTask, world["task"])
    surveys.close_task(
        contact_outcome="reached",
        session=session,
        task_id=task.id,
        method=ContactMethod.phone,
        reason_codes_=["high_price"],
        serviced_elsewhere=False,
        actor_staff=staff("advisor1"),
    )
    customer = session.get(Customer, world["customer"])
    old_phone = customer.phone
    path = Path(tempfile.mkdtemp()) / "customers.csv"
    path.write_text(
        f"客户编号,客户姓名,手机,地址\n{customer.dms_code},{customer.name},{NEW_PHONE},{NEW_ADDRESS}\n"
        # a bad phone (too long): the rejected cell shows in the import report and errors.xlsx
        f"X9,某人,{NEW_PHONE * 4},\n",
        encoding="utf-8",
    )
    batch, _ = imports.import_file(
        session=session,
        store_id=customer.store_id,
        kind="customers",
        source=path,
        actor=Actor.person(staff("admin")),
    )
    session.commit()
    assert batch.updated == 1 and batch.failed == 1
    world = {**world, "batch_id": batch.id}
    phones = {
        p
        for p in session.scalars(select(Customer.phone).where(Customer.store_id == customer.store_id))
        if p and sum(ch.isdigit() for ch in p) >= 7  # a number, not a word left in the field
    }
    full = phones | {old_phone, NEW_PHONE, NEW_ADDRESS}

    app = create_app()

    def client_for(who: str) -> TestClient:
        c = TestClient(app, follow_redirects=True, headers={"Origin": "http://testserver"})
        r = c.post("/api/auth/login", json={"username": who, "password": PASSWORD})
        assert r.status_code == 200, r.text
        return c

    read = 0
    for who in ("manager", "auditor"):
        c = client_for(who)
        leaks = []
        for url in _surfaces(world):
            r = c.get(url)
            assert r.status_code < 500, (who, url, r.status_code)
            if r.status_code != 200:
                continue
            read += 1
            text = _text(r)
            leaks += [f"{url}: {value}" for value in full if value in text]
        assert not leaks, f"{who} reads full contact data:\n" + "\n".join(leaks)
        # searching the hidden digits finds nothing (it would unmask the number digit by digit)
        assert customer.name not in c.get(f"/cycles/{world['cycle']}/followup?q={NEW_PHONE[3:7]}").text
        # the change itself is there, masked
        assert mask_phone(NEW_PHONE) in c.get(f"/audit/customer/{customer.id}").text
        changes = c.get(f"/api/audit/customer/{customer.id}").json()[-1]["changes"]
        assert changes["phone"] == {"before": mask_phone(old_phone), "after": mask_phone(NEW_PHONE)}
    assert read > 60  # pages, API answers and workbooks were really read

    admin = client_for("admin")
    assert customer.name in admin.get(f"/cycles/{world['cycle']}/followup?q={NEW_PHONE[3:7]}").text
    assert NEW_PHONE in admin.get(f"/customers/{customer.id}").text
    changes = admin.get(f"/api/audit/customer/{customer.id}").json()[-1]["changes"]
    assert changes["phone"] == {"before": old_phone, "after": NEW_PHONE}
    assert NEW_ADDRESS in _text(admin.get("/audit/export.xlsx?action=customer.updated_by_import"))
    assert NEW_PHONE * 4 in _text(admin.get(f"/archive/imports/{batch.id}/errors.xlsx"))
