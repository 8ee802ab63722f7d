"""Errors map to problem+json without echoing input, SQL or tracebacks."""

import logging
import uuid

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, ConfigDict

from app.audit.unit_of_work import UnitOfWorkRoute
from app.core.errors import Conflict

CANARY = "canary-Գրիգորյան-7f3a"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str


def _install_test_routes(app: FastAPI) -> None:
    router = APIRouter(route_class=UnitOfWorkRoute)

    @router.get("/api/v1/test-boom")
    def boom() -> None:
        raise RuntimeError(f"secret {CANARY}")

    @router.get("/api/v1/test-things/{thing_id}")
    def thing(thing_id: uuid.UUID) -> dict[str, str]:
        return {"id": str(thing_id)}

    @router.post("/api/v1/test-things")
    def create(body: Body) -> dict[str, str]:
        raise Conflict("that thing exists already", fields=["name"])

    app.include_router(router)


@pytest.fixture
def raw_client(app: FastAPI) -> TestClient:
    _install_test_routes(app)
    return TestClient(app, raise_server_exceptions=False)


def test_unexpected_error_is_a_problem_without_details(
    raw_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        r = raw_client.get("/api/v1/test-boom")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == 500
    assert body["request_id"] == r.headers["x-request-id"]
    assert CANARY not in r.text
    assert "Traceback" not in r.text
    assert "RuntimeError" not in r.text
    assert CANARY not in caplog.text
    assert body["request_id"] in caplog.text


def test_malformed_path_id_is_404(raw_client: TestClient) -> None:
    r = raw_client.get("/api/v1/test-things/not-a-uuid")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    ok = raw_client.get(f"/api/v1/test-things/{uuid.uuid4()}")
    assert ok.status_code == 200


def test_validation_error_names_field_without_echoing_input(raw_client: TestClient) -> None:
    r = raw_client.post("/api/v1/test-things", json={"name": 5, "extra": CANARY})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    # The unknown key is reported where it was (the body), never by its name.
    assert r.json()["fields"] == ["body", "name"]
    assert CANARY not in r.text


def test_app_error_maps_to_its_status(raw_client: TestClient) -> None:
    r = raw_client.post("/api/v1/test-things", json={"name": "x"})
    assert r.status_code == 409
    assert r.json()["detail"] == "that thing exists already"
    assert r.json()["fields"] == ["name"]


def test_unknown_route_is_problem_json(raw_client: TestClient) -> None:
    r = raw_client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"


def test_html_clients_get_an_html_error_page(raw_client: TestClient) -> None:
    r = raw_client.get("/nothing-here", headers={"accept": "text/html"})
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("text/html")
    assert "Not found" in r.text


def test_nul_bytes_in_path_or_query_are_refused(raw_client: TestClient) -> None:
    r = raw_client.get("/api/v1/audit/events?actor=a%00b")
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    assert "NUL" in r.json()["detail"]
    assert raw_client.get("/api/v1/test-things/a%00b").status_code == 400
