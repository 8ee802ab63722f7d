"""HTTP adapter for the published signing keys: public, like the key itself."""

from __future__ import annotations

from fastapi import APIRouter

from app.access.deps import RuntimeDep
from app.audit.unit_of_work import UnitOfWorkRoute
from app.keys import published
from app.keys.schemas import SigningKeysRead

router = APIRouter(prefix="/api/v1/keys", route_class=UnitOfWorkRoute, tags=["keys"])


@router.get("/signing", response_model=SigningKeysRead)
def signing_keys(runtime: RuntimeDep) -> SigningKeysRead:
    """The signing key history (public keys, key ids, fingerprints, validity) and the signed transitions between
    the keys: pin one key to verify bundles and checkpoints, and follow the transitions from it."""
    return published.signing_keys(runtime.keys.for_signing())
