"""What a bundle says about itself: the names it may hold, the manifest it signs and the README for its recipient.

The manifest is JSON: the SHA-256 and size of every file, the hash of ``SHA256SUMS``, the export's facts
(given by the caller, with opaque per-export ids only) and the signing key. Format v2 (``FORMAT``):
``manifest.sig`` is an Ed25519 signature, with ``signing.MANIFEST_DIGEST_CONTEXT``, over the SHA-512 digest
of manifest.json's exact bytes, so the manifest is written and hashed in pieces as it streams into the ZIP
and never held whole (it has a line per file and per record); the context keeps it from passing for an audit
checkpoint or a v1 signature. In v1 the signature covered the bytes themselves (``signing.MANIFEST_CONTEXT``).
The files are listed in the order the ZIP holds them and the consent basis in the order of the records; every
other object has sorted keys. ``app/exports/verify_bundle.py`` reads both formats; a change here is a change
there.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.crypto import signing

FORMAT = "testimony-vault/bundle-manifest/v2"
FORMAT_V1 = "testimony-vault/bundle-manifest/v1"
SUMS = "SHA256SUMS"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
README = "README.txt"
RESERVED = frozenset({SUMS, MANIFEST, SIGNATURE, README})
"""Names the writer makes itself; the caller's entries may not take them."""
CUSTODY_DIR = "custody/"

_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
MAX_NAME = 255
MAX_DEPTH = 4
# The manifest's own keys: the caller's extra fields may not replace them.
_KEYS = frozenset(
    {
        "format", "export_id", "purpose", "recipient", "requester", "approvers", "built_at", "software_version",
        "consent_basis", "custody", "signing_key", "files", "sha256sums",
    }
)  # fmt: skip


def check_name(name: str) -> str:
    """A file name inside a bundle: relative, '/'-separated, of plain characters; ValueError otherwise.

    Plain names need no escaping in ``SHA256SUMS`` and cannot climb out of the folder a recipient
    extracts the bundle into.
    """
    parts = name.split("/")
    if len(name) > MAX_NAME or len(parts) > MAX_DEPTH or not all(_COMPONENT.fullmatch(p) for p in parts):
        raise ValueError(
            "a bundle file name is 1 to 4 '/'-separated parts of letters, digits, '.', '_' and '-', "
            "each starting with a letter or digit"
        )
    if any(p in (".", "..") or p.endswith(".") for p in parts):
        raise ValueError("a bundle file name part may not end with '.'")
    return name


@dataclass(frozen=True)
class Party:
    """Someone who asked for or approved the export: a role and an id made for this export only."""

    role: str
    id: str


@dataclass(frozen=True)
class CustodyLink:
    """A custody proof in the bundle and the bundle file it proves (an attachment original, or a
    statement version's canonical bytes)."""

    proof: str
    item: str


@dataclass(frozen=True)
class BundleInfo:
    """What the manifest says besides the files: given by the export build, never an internal id or a name.

    ``consent_basis`` maps each record's per-export id to the consent it was disclosed under (JSON): a mapping
    (written in key order) or pairs read once, as the manifest is written, in the order given (``Pairs``).
    ``extra`` adds further top-level fields (for example why some items carry no custody proof).
    """

    export_id: str
    purpose: str
    recipient: Mapping[str, Any]
    requester: Party
    approvers: Sequence[Party]
    built_at: datetime
    software_version: str
    consent_basis: Mapping[str, Any] | Pairs
    custody: Sequence[CustodyLink] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def check(self, names: set[str]) -> None:
        """ValueError when the info cannot describe a bundle of these files."""
        if self.built_at.tzinfo is None:
            raise ValueError("built_at must be timezone-aware")
        if clash := sorted(set(self.extra) & _KEYS):
            raise ValueError(f"extra fields may not replace the manifest's own: {', '.join(clash)}")
        proofs = set()
        for link in self.custody:
            if not link.proof.startswith(CUSTODY_DIR) or link.proof not in names:
                raise ValueError("each custody proof is a file of the bundle under custody/")
            if link.item not in names or link.item.startswith(CUSTODY_DIR):
                raise ValueError("each custody proof names a file of the bundle outside custody/ as its item")
            proofs.add(link.proof)
        if unlinked := sorted(n for n in names if n.startswith(CUSTODY_DIR) and n not in proofs):
            raise ValueError(f"{len(unlinked)} file(s) under custody/ are no linked custody proof")


@dataclass(frozen=True)
class FileFacts:
    name: str
    sha256: str
    size: int


def _time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


class Pairs:
    """A JSON object of the manifest whose members are read once, as it is written, in the order given: what
    grows with the records waits outside memory (a ``spool.Tape``) until then. The keys must be distinct."""

    def __init__(self, pairs: Iterable[tuple[str, Any]]) -> None:
        self._pairs = pairs

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        return iter(self._pairs)


PIECES = 64 * 1024
"""Characters of the manifest gathered before they go out as one chunk."""


def manifest_chunks(
    info: BundleInfo, files: Iterable[FileFacts], sums: FileFacts, signer: signing.Signer
) -> Iterator[bytes]:
    """The manifest's exact bytes (UTF-8 JSON), in chunks of about ``PIECES`` characters, never whole: the
    files in the order given (the ZIP's), the consent basis in its order, every other object with sorted keys,
    laid out as ``json.dumps(..., sort_keys=True, indent=1)`` lays them out."""
    basis = info.consent_basis
    document: dict[str, Any] = {
        **info.extra,
        "format": FORMAT,
        "export_id": info.export_id,
        "purpose": info.purpose,
        "recipient": dict(info.recipient),
        "requester": {"role": info.requester.role, "id": info.requester.id},
        "approvers": [{"role": p.role, "id": p.id} for p in info.approvers],
        "built_at": _time(info.built_at),
        "software_version": info.software_version,
        "consent_basis": Pairs(sorted(basis.items())) if isinstance(basis, Mapping) else basis,
        "custody": [{"proof": link.proof, "item": link.item} for link in info.custody],
        "signing_key": signing_key(signer.public_key),
        "files": Pairs((f.name, {"sha256": f.sha256, "size": f.size}) for f in files),
        "sha256sums": {"sha256": sums.sha256, "size": sums.size},
    }
    return json_chunks(document, 2)


def json_chunks(value: Any, split: int) -> Iterator[bytes]:
    """``value`` as ``indented_pieces`` writes it, and a newline, UTF-8 in chunks of about ``PIECES``
    characters: a ``Pairs`` inside is read as the chunks go."""
    gathered: list[str] = []
    size = 0
    for piece in indented_pieces(value, 0, split):
        gathered.append(piece)
        size += len(piece)
        if size >= PIECES:
            yield "".join(gathered).encode("utf-8")
            gathered, size = [], 0
    gathered.append("\n")
    yield "".join(gathered).encode("utf-8")


def manifest_bytes(
    info: BundleInfo, files: Sequence[FileFacts], sums: FileFacts, signer: signing.Signer
) -> bytes:  # fmt: skip
    """The manifest's exact bytes whole (``manifest_chunks`` joined): the signature covers their digest."""
    return b"".join(manifest_chunks(info, files, sums, signer))


def indented_pieces(value: Any, depth: int, split: int) -> Iterator[str]:
    """``json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1)``, byte for byte, in pieces: the
    containers down to ``split`` levels are laid out here, and each value below them encoded whole. A
    manifest holds a line per record and per file; encoded in one call, it went through as several small
    strings per line at once (Python's JSON encoder builds every piece before joining them when it indents),
    the build's largest peak of memory; here it is a few pieces per line. Newlines occur in JSON text only
    between tokens (a string's own are escaped), so a value encoded alone is placed at its depth by indenting
    each of its lines."""
    if isinstance(value, Pairs):  # laid out as it is read, each value encoded whole
        inner = "\n" + " " * (depth + 1)
        count = 0
        for key, item in value:
            yield ("," if count else "{") + inner + json.dumps(key, ensure_ascii=False) + ": "
            yield from indented_pieces(item, depth + 1, 0)
            count += 1
        yield "\n" + " " * depth + "}" if count else "{}"
        return
    laid_out = isinstance(value, list) or (isinstance(value, dict) and all(isinstance(k, str) for k in value))
    if split <= 0 or not laid_out or not value:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1)
        yield text.replace("\n", "\n" + " " * depth) if depth else text
        return
    inner = "\n" + " " * (depth + 1)
    if isinstance(value, dict):
        yield "{"
        for n, (key, item) in enumerate(sorted(value.items())):
            yield ("," if n else "") + inner + json.dumps(key, ensure_ascii=False) + ": "
            yield from indented_pieces(item, depth + 1, split - 1)
        yield "\n" + " " * depth + "}"
    else:
        yield "["
        for n, item in enumerate(value):
            yield ("," if n else "") + inner
            yield from indented_pieces(item, depth + 1, split - 1)
        yield "\n" + " " * depth + "]"


def signing_key(public_key: bytes) -> dict[str, str]:
    """How a bundle names the key that signed it; a verifier compares it with the key it pinned."""
    return {
        "algorithm": "ed25519",
        "context": signing.MANIFEST_DIGEST_CONTEXT.decode("ascii"),
        "key_id": signing.key_id(public_key),
        "fingerprint": signing.fingerprint(public_key),
        "public_key": base64.b64encode(public_key).decode("ascii"),
    }


def manifest_digest() -> Any:
    """The hash whose digest of manifest.json ``manifest.sig`` signs (SHA-512)."""
    return hashlib.sha512()


def signature_bytes(digest: bytes, signer: signing.Signer) -> bytes:
    """``manifest.sig``: the base64 Ed25519 signature, with the manifest digest context, over the SHA-512 digest
    of manifest.json (``manifest_digest``), and a newline."""
    if len(digest) != hashlib.sha512().digest_size:
        raise ValueError("manifest.sig signs the SHA-512 digest of manifest.json")
    return base64.b64encode(signer.sign(signing.MANIFEST_DIGEST_CONTEXT, digest)) + b"\n"


def sums_bytes(files: Sequence[FileFacts]) -> bytes:
    """``SHA256SUMS`` in the format ``sha256sum -c`` reads: the hash, two spaces, the name."""
    return "".join(f"{f.sha256}  {f.name}\n" for f in files).encode("ascii")


@dataclass(frozen=True)
class Readme:
    """The texts of ``README.txt``: the terms and what to do on a recall notice, as the organisation words them."""

    terms: str
    recall: str
    contact: str


README_TEMPLATE = """\
Testimony Vault export {export_id}
===================================

This bundle was prepared for {recipient} and may be used only for this purpose:

  {purpose}

Terms
-----
{terms}

Recall notices
--------------
{recall}

Contact: {contact}

Checking the bundle
-------------------
1. Every file is listed in SHA256SUMS. In the folder you extracted the bundle into, run:

     sha256sum -c SHA256SUMS

   Every line must say OK.
2. manifest.json lists every file with its SHA-256 and size, and the SHA-256 of SHA256SUMS.
   manifest.sig is an Ed25519 signature over the SHA-512 digest of manifest.json by the key with
   id {key_id}, fingerprint

     {fingerprint}

   Compare this fingerprint with the one the organisation published (not only with this file: whoever
   could change the bundle could change this text). Then check the signature, every file and every
   custody proof with the standalone verifier (Python 3 with the "cryptography" package):

     python3 verify_bundle.py BUNDLE.zip --key FINGERPRINT

   The verifier of the version that built this bundle has SHA-256
     {verifier_sha256}
   Check that `sha256sum verify_bundle.py` prints this value before you run it.
"""


def readme_bytes(info: BundleInfo, readme: Readme, public_key: bytes, verifier_sha256: str) -> bytes:
    recipient = info.recipient.get("name") or info.recipient.get("id") or "the recipient"
    text = README_TEMPLATE.format(
        export_id=info.export_id,
        recipient=recipient,
        purpose=info.purpose,
        terms=readme.terms.strip(),
        recall=readme.recall.strip(),
        contact=readme.contact.strip(),
        key_id=signing.key_id(public_key),
        fingerprint=signing.fingerprint(public_key),
        verifier_sha256=verifier_sha256,
    )
    return text.encode("utf-8")
