"""Any set of files the writer accepts makes a bundle whose manifest lists exactly those files, with their true
hashes and sizes, and that verifies; the ZIP holds exactly the bytes given."""

from __future__ import annotations

import hashlib
import tempfile
import zipfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from app.crypto import keyring as kr
from app.exports import verify_bundle as vb
from app.exports.bundle import Entry
from tests.support.bundles import fingerprint, write_bundle

SIGNER = kr.generate().signer
part = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,11}", fullmatch=True)
files = st.dictionaries(
    st.lists(part, min_size=1, max_size=3).map(lambda parts: "d/" + "/".join(parts) + ".bin"),
    st.lists(st.binary(max_size=3000), max_size=4),
    max_size=6,
)


def _no_file_is_a_folder(names: set[str]) -> bool:
    folders = {"/".join(n.split("/")[:i]) for n in names for i in range(1, n.count("/") + 1)}
    return not names & folders


@settings(deadline=None, max_examples=30)
@given(files.filter(lambda f: _no_file_is_a_folder(set(f))))
def test_any_accepted_files_make_a_bundle_that_lists_and_verifies_them(contents: dict[str, list[bytes]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "b.zip"
        result = write_bundle(path, SIGNER, [Entry(name, iter(chunks)) for name, chunks in contents.items()])
        report = vb.verify_bundle(path, vb.read_key(fingerprint(SIGNER)))
        assert report.ok, report.problems
        listed = report.manifest["files"]
        assert set(listed) == {*contents, "README.txt"}
        with zipfile.ZipFile(path) as z:
            for name, chunks in contents.items():
                data = b"".join(chunks)
                assert z.read(name) == data
                assert listed[name] == {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                assert result[name].size == len(data)
