from fastapi.testclient import TestClient

from app import __version__
from app.core.config import Settings
from app.keys.store import Keys
from app.main import create_app
from tests.conftest import production


def test_health_answers_without_auth(client: TestClient) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok", "version": __version__}
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-request-id"]


def test_openapi_page_in_development_uses_local_assets(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert "/static/swagger/swagger-ui-bundle.js" in page.text
    assert "cdn" not in page.text.lower()
    assert client.get("/static/swagger/swagger-ui-bundle.js").status_code == 200
    assert client.get("/api/openapi.json").json()["info"]["title"] == "Testimony Vault"


def test_no_openapi_outside_development(settings: Settings, keys: Keys) -> None:
    app = create_app(production(settings), keys)
    with TestClient(app) as c:
        assert c.get("/api/docs").status_code == 404
        assert c.get("/api/openapi.json").status_code == 404
        assert c.get("/static/swagger/swagger-ui-bundle.js").status_code == 404
    app.state.engine.dispose()
