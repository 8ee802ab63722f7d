"""Building real export bundles in tests: the writer with made-up records, and the ways to check one."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from app.crypto import signing
from app.exports.bundle import BuiltBundle, Bundle, Entry
from app.exports.manifest import BundleInfo, CustodyLink, Party, Readme

REPO = Path(__file__).resolve().parents[2]
BUILT_AT = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)
README = Readme(
    terms="Use only for the investigation named above; do not pass the bundle on.",
    recall="If you receive a recall notice, stop using the records it names and tell us what you did.",
    contact="custodians@vault.example (PGP on request)",
)
RECORDS = "".join(f'{{"record":"R-{i:04d}","text":"Ես տեսա {i}"}}\n' for i in range(200)).encode()


def info(custody: Sequence[CustodyLink] = (), **changes: object) -> BundleInfo:
    fields: dict[str, object] = {
        "export_id": "EXP-7Q2M",
        "purpose": "criminal_investigation",
        "recipient": {"name": "Office of the Prosecutor", "class": "intl_criminal_investigators"},
        "requester": Party("legal", "P-1"),
        "approvers": [Party("custodian", "P-2"), Party("custodian", "P-3")],
        "built_at": BUILT_AT,
        "software_version": "0.1.0",
        "consent_basis": {"R-0000": {"grants": ["G-1"], "level": "named_protected"}},
        "custody": custody,
    }
    fields.update(changes)
    return BundleInfo(**fields)  # type: ignore[arg-type]


def chunked(data: bytes, size: int = 7000) -> Iterable[bytes]:
    return (data[i : i + size] for i in range(0, len(data), size))


def sample_entries(extra: Sequence[Entry] = ()) -> list[Entry]:
    return [
        Entry("records.jsonl", chunked(RECORDS)),
        Entry("records.csv", [b"record,text\n", b"R-0000,\xd4\xb5\xd5\xbd\n"]),
        Entry("attachments/A-1.jpg", chunked(bytes(range(256)) * 300)),
        Entry("consent/P-9.json", [b'{"grants":["G-1"]}\n']),
        Entry("redactions.json", [b"{}\n"]),
        Entry("exclusions.json", [b'{"reason":"not included","count":"<5"}\n']),
        *extra,
    ]


def write_bundle(
    path: Path,
    signer: signing.Signer,
    entries: Sequence[Entry] | None = None,
    bundle_info: BundleInfo | None = None,
) -> BuiltBundle:
    bundle = Bundle(sample_entries() if entries is None else entries, bundle_info or info(), signer, README)
    with path.open("wb") as fh:
        for chunk in bundle.chunks():
            fh.write(chunk)
    return bundle.result


def fingerprint(signer: signing.Signer) -> str:
    return hashlib.sha256(signer.public_key).hexdigest()


def standalone(tmp_path: Path, *args: str, source: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """Run a copy of verify_bundle.py alone: no site processing (so no editable install of the app), only the
    standard library and the folder holding cryptography on the path, and an import guard that refuses
    anything else."""
    folder = tmp_path / "recipient"
    folder.mkdir(exist_ok=True)
    copy = folder / "verify_bundle.py"
    copy.write_bytes(source if source is not None else (REPO / "app" / "exports" / "verify_bundle.py").read_bytes())
    import cryptography

    site = str(Path(cryptography.__file__).resolve().parents[1])
    runner = folder / "run_alone.py"
    runner.write_text(
        "import runpy, sys\n"
        f"sys.path = [{str(folder)!r}] + [p for p in sys.path if 'site-packages' not in p] + [{site!r}]\n"
        "ALLOWED = set(sys.stdlib_module_names) | {'cryptography', '_cffi_backend', 'cffi'}\n"
        "class Guard:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] not in ALLOWED:\n"
        "            raise ImportError('verify_bundle.py imported ' + name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Guard())\n"
        f"sys.argv = [{str(copy)!r}, *sys.argv[1:]]\n"
        f"runpy.run_path({str(copy)!r}, run_name='__main__')\n",
        encoding="utf-8",
    )
    return subprocess.run(
        [sys.executable, "-S", "-E", "-s", str(runner), *args],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
