"""The verifier refuses what no bundle holds (folder entries, doubled or climbing names, links), runs on a
recipient's stock Debian Python, and the whole pipeline of an export build reads back as the bundle it wrote."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import uuid
import warnings
import zipfile
from pathlib import Path

import pytest

from app.core.blobstore import DirectoryBlobStore
from app.crypto import keyring as kr
from app.exports import verify_bundle as vb
from app.exports.bundle import Bundle
from app.exports.encrypt import AGE, encrypt_to_age
from app.exports.manifest import Party
from app.exports.stored import open_bundle, seal_bundle
from tests.support.bundles import README, REPO, fingerprint, info, sample_entries, write_bundle

SIGNER = kr.generate().signer


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.zip"
    write_bundle(path, SIGNER)
    return path


def _copy_with(bundle: Path, target: Path, extra: list[tuple[str, bytes]]) -> Path:
    with zipfile.ZipFile(bundle) as source, zipfile.ZipFile(target, "w") as out:
        for item in source.infolist():
            out.writestr(item, source.read(item))
        for name, data in extra:
            out.writestr(name, data)
    return target


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ([("../evil.sh", b"x")], "the ZIP holds a file whose name no bundle uses: '../evil.sh'"),
        ([("/etc/cron.d/x", b"x")], "the ZIP holds a file whose name no bundle uses: '/etc/cron.d/x'"),
        ([("records.jsonl", b"a second copy")], "the ZIP holds 'records.jsonl' more than once"),
        ([("stuff/", b"")], "the ZIP holds a folder entry 'stuff/', which no bundle has"),
    ],
)
def test_what_no_bundle_holds_is_refused(
    tmp_path: Path, bundle: Path, extra: list[tuple[str, bytes]], problem: str
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns of the duplicate name it is asked to write
        crafted = _copy_with(bundle, tmp_path / "crafted.zip", extra)
    report = vb.verify_bundle(crafted, vb.read_key(fingerprint(SIGNER)))
    assert report.signature_ok
    assert report.problems == [problem]


def test_a_link_in_the_extracted_folder_is_refused(tmp_path: Path, bundle: Path) -> None:
    tree = tmp_path / "tree"
    with zipfile.ZipFile(bundle) as z:
        z.extractall(tree)
    target = tree / "redactions.json"
    moved = tmp_path / "elsewhere.json"
    shutil.move(target, moved)
    os.symlink(moved, target)
    report = vb.verify_bundle(tree, vb.read_key(fingerprint(SIGNER)))
    assert "redactions.json is not a plain file (a link or a device), which no bundle holds" in report.problems
    assert not report.ok


def test_a_file_that_is_no_zip_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"not a zip at all")
    report = vb.verify_bundle(junk, vb.read_key(fingerprint(SIGNER)))
    assert not report.ok
    assert report.problems[0].startswith(f"{junk} is neither a bundle's ZIP file nor its folder")


def test_extra_manifest_fields_may_not_replace_its_own(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="files"):
        write_bundle(tmp_path / "x.zip", SIGNER, bundle_info=info(extra={"files": {}}))
    fine = tmp_path / "fine.zip"
    write_bundle(fine, SIGNER, bundle_info=info(extra={"custody_omitted": {"R-0001": "filtered_by_category"}}))
    report = vb.verify_bundle(fine, vb.read_key(fingerprint(SIGNER)))
    assert report.ok
    assert report.manifest["custody_omitted"] == {"R-0001": "filtered_by_category"}


def test_the_standalone_verifier_runs_on_a_stock_debian_python(tmp_path: Path, bundle: Path) -> None:
    """/usr/bin/python3 with Debian's python3-cryptography (.ci/run installs it), isolated: no venv, no app."""
    copy = tmp_path / "verify_bundle.py"
    copy.write_bytes((REPO / "app" / "exports" / "verify_bundle.py").read_bytes())
    run = subprocess.run(
        ["/usr/bin/python3", "-I", str(copy), str(bundle), "--key", fingerprint(SIGNER)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "OK: the signature, every file, SHA256SUMS and every custody proof hold" in run.stdout


def test_the_pipeline_of_an_export_build_reads_back_as_the_bundle(tmp_path: Path) -> None:
    """Bundle -> age -> sealed file -> download -> age -d -> the same ZIP, which verifies."""
    identity = tmp_path / "identity.txt"
    subprocess.run(["/usr/bin/age-keygen", "-o", str(identity)], check=True, capture_output=True)
    recipient = subprocess.run(
        ["/usr/bin/age-keygen", "-y", str(identity)], check=True, capture_output=True, text=True
    ).stdout.strip()
    store = DirectoryBlobStore(tmp_path / "exports")
    export_id, dek = uuid.uuid4(), os.urandom(32)
    bundle = Bundle(sample_entries(), info(approvers=[Party("custodian", "P-2")]), SIGNER, README)
    stored = seal_bundle(store, export_id, dek, encrypt_to_age(bundle.chunks(), recipient))
    downloaded = tmp_path / "bundle.zip.age"
    with downloaded.open("wb") as fh:
        for chunk in open_bundle(store, export_id, dek).chunks():
            fh.write(chunk)
    assert downloaded.stat().st_size == stored.size
    zip_path = tmp_path / "bundle.zip"
    subprocess.run([AGE, "-d", "-i", str(identity), "-o", str(zip_path), str(downloaded)], check=True)
    report = vb.verify_bundle(zip_path, vb.read_key(fingerprint(SIGNER)))
    assert report.ok, report.problems
    assert report.manifest["files"]["records.jsonl"]["sha256"] == bundle.result["records.jsonl"].sha256


def test_a_zip_put_in_front_of_a_bundle_is_a_problem(tmp_path: Path) -> None:
    """A reader that streams from the first byte would see only the forged entries; the verifier, reading the
    central directory at the end, must not call the whole file good."""
    good = tmp_path / "good.zip"
    write_bundle(good, SIGNER)
    assert vb.verify_bundle(good, vb.read_key(fingerprint(SIGNER))).ok
    forged = io.BytesIO()
    with zipfile.ZipFile(forged, "w") as z:
        z.writestr("records.csv", b"forged,row\n")
    crafted = tmp_path / "crafted.zip"
    crafted.write_bytes(forged.getvalue() + good.read_bytes())
    report = vb.verify_bundle(crafted, vb.read_key(fingerprint(SIGNER)))
    assert not report.ok
    assert any("bytes no entry accounts for" in p for p in report.problems), report.problems


def test_a_deeply_nested_manifest_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    good = tmp_path / "good.zip"
    write_bundle(good, SIGNER)
    crafted = tmp_path / "nested.zip"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(crafted, "w", zipfile.ZIP_DEFLATED) as out:
        for item in src.infolist():
            data = b"[" * 100_000 + b"]" * 100_000 if item.filename == "manifest.json" else src.read(item)
            out.writestr(item.filename, data)
    report = vb.verify_bundle(crafted, vb.read_key(fingerprint(SIGNER)))
    assert not report.ok
    assert "manifest.json is not UTF-8 JSON" in report.problems
