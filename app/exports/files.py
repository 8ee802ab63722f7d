"""Attachments in a bundle: each under its own category's grant, stripped unless the recipient keeps originals.

An attachment goes when its clear ``category`` is among the categories ``decide()`` allowed for its interview at
the person's level, and only at a named level or ``pseudonymous`` (a photo, a recording or a document is never
de-identified). Its facts (SHA-256, size, file name) are shaped like any sealed document (``levels.for_level``);
its bytes are read verified (``storage.open_content``) and, unless ``strip.keeps_original`` for the recipient's
class, cleaned by ``strip.stripped``. A format mat2 refuses, or a file it fails on, is left out with one generic
reason, never sent unstripped: the file is stripped before its entry starts, so a refusal never cuts the ZIP.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from sqlalchemy.orm import Session

from app.consent.vocabulary import DisclosureLevel
from app.exports import levels, strip
from app.exports.bundle import Entry
from app.exports.levels import OpaqueIds
from app.interviews import filetypes as ft
from app.interviews import storage
from app.interviews.blobs import VerifiedBlob
from app.interviews.models import Attachment
from app.keys import datakeys

if TYPE_CHECKING:
    from app.runtime import Runtime  # the wiring above the domains; services only name its type

CHUNK = 64 * 1024
PAGE = 200
"""Attachments whose data keys are read by one query."""
FOLDER = "attachments/"
LEFT_OUT = "a file could not be sent in the form its recipient may receive"
"""The one reason for an attachment left out: it names neither the format nor what failed."""
EXTENSIONS: dict[str, str] = {
    ft.JPEG: "jpg",
    ft.PNG: "png",
    ft.HEIC: "heic",
    ft.HEIF: "heif",
    ft.PDF: "pdf",
    ft.MP4: "mp4",
    ft.MOV: "mov",
    ft.M4A: "m4a",
    ft.AAC: "aac",
    ft.MP3: "mp3",
    ft.WAV: "wav",
    ft.OGG: "ogg",
    ft.WEBM: "webm",
}


@dataclass(frozen=True)
class Planned:
    """An attachment to send: its row and its name in the bundle."""

    row: Attachment
    name: str


def described(
    session: Session,
    runtime: Runtime,
    attachments: Sequence[Attachment],
    level: DisclosureLevel,
    cats: Sequence[str],
    ids: OpaqueIds,
) -> tuple[list[dict[str, Any]], list[Planned]]:
    """Of an interview's attachments (in id order, ``export_pages``), those that may go: how the record
    describes each, and the files to write."""
    if level not in (DisclosureLevel.NAMED_PUBLIC, DisclosureLevel.NAMED_PROTECTED, DisclosureLevel.PSEUDONYMOUS):
        return [], []
    rows = [a for a in attachments if a.category in cats]
    described_rows: list[dict[str, Any]] = []
    planned: list[Planned] = []
    for row in rows:
        opaque = ids.of(row.id)
        name = f"{FOLDER}{opaque}.{EXTENSIONS.get(row.media_type, 'bin')}"
        facts = storage.attachment_facts(session, runtime, row)
        doc = {"sha256": facts.sha256, "size": facts.size, "file_name": facts.file_name}
        shaped = levels.for_level(level, "attachments", "content", doc, cats, ids) or {}
        described_rows.append(
            {**shaped, "attachment": opaque, "file": name, "category": row.category, "media_type": row.media_type}
        )
        planned.append(Planned(row, name))
    return described_rows, planned


@dataclass
class Files:
    """The attachment entries of one bundle; ``left_out`` is known once ``entries()`` is exhausted."""

    session: Session
    runtime: Runtime
    planned: Sequence[Planned]
    originals: bool
    left_out: set[str] = field(default_factory=set)

    def entries(self) -> Iterator[Entry]:
        """Each file's entry, a page of files at a time: the page's data keys read by one query (and dropped
        from the session after it), each blob then opened and streamed on its own."""
        for start in range(0, len(self.planned), PAGE):
            page = self.planned[start : start + PAGE]
            owners = sorted({item.row.person_id for item in page})
            keys = datakeys.loaded(self.session, owners)  # held for the page: data_key finds them in the session
            for item in page:
                yield from self._entry(item)
            datakeys.forget(self.session, owners)
            del keys

    def _entry(self, item: Planned) -> Iterator[Entry]:
        if not self.originals and not strip.can_strip(item.row.media_type):
            self.left_out.add(item.name)
            return
        content = _Once(storage.open_content(self.session, self.runtime, item.row))
        try:
            if self.originals:
                yield Entry(item.name, content)
                return
            try:
                with strip.stripped(content, item.row.media_type) as cleaned:
                    yield Entry(item.name, _blocks(cleaned))
            except strip.StripRefused:
                self.left_out.add(item.name)
        finally:
            content.close_unread()


def _blocks(file: BinaryIO) -> Iterator[bytes]:
    while block := file.read(CHUNK):
        yield block


class _Once:
    """An attachment's verified bytes, read once; a blob never read is closed by ``close_unread`` (one that
    was read is closed by its own reading)."""

    def __init__(self, content: VerifiedBlob) -> None:
        self._content = content
        self._started = False

    def __iter__(self) -> Iterator[bytes]:
        self._started = True
        return self._content.chunks()

    def close_unread(self) -> None:
        if not self._started:
            self._content.close()
