"""What services need besides the session: settings, keys, the password hasher, the forms and the blob store."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from app.access.passwords import Passwords
from app.consent.registry import FormRegistry
from app.core.blobstore import BlobStore, DirectoryBlobStore
from app.core.config import Settings
from app.crypto.derive import Purpose, derive_key
from app.interviews import guides
from app.keys.store import Keys


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    keys: Keys
    passwords: Passwords = field(init=False)
    forms: FormRegistry = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "passwords", Passwords.from_settings(self.settings.passwords))
        object.__setattr__(self, "forms", FormRegistry(self.settings.forms_dir, development=self.settings.development))

    @property
    def guides_root(self) -> Path:
        """The interview guides folder: TESTIMONY_GUIDES_DIR, else the guides shipped with the code."""
        return self.settings.guides_dir or guides.default_root()

    @cached_property
    def blobs(self) -> BlobStore:
        """The blob store, made (with its folders) on first use: a command that never touches
        attachments never creates the blob directory."""
        return DirectoryBlobStore(self.settings.attachments_dir)

    @cached_property
    def bundles(self) -> BlobStore:
        """Where built export bundles are kept, sealed (app/exports/stored.py): <data_dir>/exports, made on
        first use. Its own store, so the attachments' sweeper never mistakes a bundle for an upload."""
        return DirectoryBlobStore(self.settings.data_dir / "exports")

    def derived_key(self, purpose: Purpose) -> bytes:
        return derive_key(self.keys.current.root(), purpose)
