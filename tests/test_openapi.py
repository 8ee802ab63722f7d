"""The API describes itself: a valid OpenAPI document whose every operation lists its problems."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from fastapi.testclient import TestClient
from openapi_spec_validator import validate

from app.core.openapi import declared_routes
from app.main import OPENAPI_URL, PUBLIC_PATHS
from tests.reliability.server import environment
from tests.support.routes import api_routes

PROBLEMS = {"401", "403", "404", "409", "422", "429"}


def _document(client: TestClient) -> dict[str, Any]:
    r = client.get(OPENAPI_URL)
    assert r.status_code == 200
    document: dict[str, Any] = r.json()
    return document


def test_the_document_validates(client: TestClient) -> None:
    validate(_document(client))


def test_every_operation_lists_its_problems_in_the_shared_schema(client: TestClient, app: FastAPI) -> None:
    _lists_every_problem(_document(client), app)


def test_the_one_app_of_a_server_process_lists_every_problem_too(app: FastAPI, cli_env: dict[str, str]) -> None:
    """A server process builds one app. Its routes' problems were once declared after FastAPI had built the
    routes' per-app copies, so that only a second app in a process described them all."""
    code = "import json, sys; from app.main import create_app; json.dump(create_app().openapi(), sys.stdout)"
    done = subprocess.run(
        [sys.executable, "-c", code], env=environment(cli_env), capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    _lists_every_problem(json.loads(done.stdout), app)


def test_the_declared_routes_are_the_served_ones(app: FastAPI) -> None:
    """describe_problems walks the routes as declared: the same routes, at the same paths, as FastAPI serves."""
    served = {
        (id(c.original_route), c.path)
        for c in iter_route_contexts(app.routes)
        if isinstance(c.original_route, APIRoute)
    }
    assert {(id(route), route.path) for route in declared_routes(app.routes)} == served
    assert len(served) > 100


def _lists_every_problem(document: dict[str, Any], app: FastAPI) -> None:
    operations = [(path, method, op) for path, ops in document["paths"].items() for method, op in ops.items()]
    assert len(operations) == len(list(api_routes(app))) - 1  # the docs page is not in the document
    for path, method, operation in operations:
        expected = {"413", "422", "429"} if path in PUBLIC_PATHS else PROBLEMS
        responses = operation["responses"]
        assert expected <= set(responses), (method, path)
        for code in expected:
            content = responses[code]["content"]
            assert list(content) == ["application/problem+json"], (method, path, code)
            assert content["application/problem+json"]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_security_schemes_say_how_to_send_credentials(client: TestClient) -> None:
    document = _document(client)
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {"type": "http", "scheme": "bearer", "description": "An API token (`tvt_...`)"}
    assert (schemes["session"]["in"], schemes["csrf"]["name"]) == ("cookie", "X-CSRF-Token")
    assert "security" not in document["paths"]["/api/v1/auth/login"]["post"]
    assert document["paths"]["/api/v1/me"]["get"]["security"] == [{"session": []}, {"bearer": []}]
    assert document["paths"]["/api/v1/cases"]["post"]["security"] == [{"session": [], "csrf": []}, {"bearer": []}]


def test_a_problem_answer_matches_the_declared_schema(client: TestClient) -> None:
    document = _document(client)
    declared = set(document["components"]["schemas"]["Problem"]["properties"])
    r = client.post("/api/v1/auth/login", json={"username": "x", "password": "y", "surprise": 1})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert set(r.json()) <= declared
    assert set(document["components"]["schemas"]["Problem"]["required"]) <= set(r.json())


def test_the_upload_routes_describe_what_a_streamed_file_can_meet(client: TestClient) -> None:
    paths = _document(client)["paths"]
    for path, method in [
        ("/api/v1/interviews/{interview_id}/attachments", "post"),
        ("/api/v1/uploads/{upload_id}", "patch"),
    ]:
        responses = paths[path][method]["responses"]
        for code in ("400", "408", "413", "415"):
            assert list(responses[code]["content"]) == ["application/problem+json"], (path, code)
        assert "attachment limit" in responses["413"]["description"]
    opened = paths["/api/v1/interviews/{interview_id}/uploads"]["post"]["responses"]
    assert "attachment limit" in opened["413"]["description"]
    download = paths["/api/v1/attachments/{attachment_id}/content"]["get"]["responses"]
    assert "415" not in download
