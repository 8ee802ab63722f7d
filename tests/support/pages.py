"""Using the web pages as a browser without JavaScript would: forms with their hidden token."""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.support.actors import PASSWORD, code

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def token_in(html: str) -> str:
    found = TOKEN.search(html)
    assert found, "the page has no form token"
    return found.group(1)


def browser(app: FastAPI) -> TestClient:
    return TestClient(app, base_url="https://testserver", raise_server_exceptions=False, follow_redirects=False)


def submit(client: TestClient, page: str, action: str, fields: dict[str, str] | None = None) -> Any:
    """Open ``page``, then post its form to ``action`` with the token the page carried."""
    shown = client.get(page)
    assert shown.status_code == 200, shown.text
    return client.post(action, data={"csrf_token": token_in(shown.text), **(fields or {})})


def page_login(
    app: FastAPI, username: str, secret: str | None, *, steps: int = 0, password: str = PASSWORD
) -> tuple[TestClient, Any]:
    """Log in through the login page; the client (its cookies) and the answer to the form."""
    client = browser(app)
    fields = {"username": username, "password": password}
    if secret:
        fields["totp"] = code(secret, app, steps)
    return client, submit(client, "/login", "/login", fields)
