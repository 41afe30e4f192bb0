"""Helpers for tests that drive the staff pages through the TestClient (the `client` fixture
of conftest.py)."""

from __future__ import annotations

PASSWORD = "winback-demo"  # every demo account's password


def login(client, username: str) -> None:
    """Log in as ``username`` on the page form (dropping whoever was logged in)."""
    client.cookies.clear()
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 303, r.text
