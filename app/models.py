"""Every model, imported in one place so metadata is complete for Alembic and tests."""

from app.db import Base
from app.keys.models import DataKey

__all__ = ["Base", "DataKey"]
