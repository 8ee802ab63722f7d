"""The verifier refuses what no bundle holds (folder entries, doubled or climbing names, links), runs on a
recipient's stock Debian Python, and the whole pipeline of an export build reads back as the bundle it wrote."""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import subprocess
import uuid
import zipfile
import zlib
from pathlib import Path

import pytest

from app.core.blobstore import DirectoryBlobStore
from app.crypto import keyring as kr
from app.exports import verify_bundle as vb
from app.exports.bundle import Bundle
from app.exports.encrypt import AGE, encrypt_to_age
from app.exports.manifest import Party
from app.exports.stored import open_bundle, seal_bundle
from tests.support import zips
from tests.support.bundles import README, REPO, fingerprint, info, sample_entries, write_bundle

SIGNER = kr.generate().signer


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.zip"
    write_bundle(path, SIGNER)
    return path


def _copy_with(bundle: Path, target: Path, extra: list[tuple[str, bytes]]) -> Path:
    """The bundle with entries added after its own, written as the bundle writer writes every entry."""
    target.write_bytes(zips.assemble(zips.members(bundle) + [zips.Member.of(n, d) for n, d in extra]))
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


# --- Hostile ZIPs: a bundle whose central directory says one thing and whose bytes another ------------------


def _verify_bytes(tmp_path: Path, data: bytes) -> vb.BundleReport:
    crafted = tmp_path / "crafted.zip"
    crafted.write_bytes(data)
    return vb.verify_bundle(crafted, vb.read_key(fingerprint(SIGNER)))


def test_the_hand_made_zips_are_the_bundle_writers_own_format(bundle: Path) -> None:
    """Taken apart and put together again untouched, a bundle is the same bytes: each hostile ZIP below differs
    from a real bundle only in what its test changes."""
    assert zips.assemble(zips.members(bundle)) == bundle.read_bytes()


def test_an_entry_hidden_after_another_entrys_deflate_stream_is_refused(tmp_path: Path, bundle: Path) -> None:
    """The central directory counts the hidden entry's bytes in records.csv's compressed size, so a reader that
    trusts it reads records.csv unchanged; a reader that streams from the start sees records.csv end, then a
    forged attachment. The deflate stream must end exactly where the central directory says."""
    parts = zips.members(bundle)
    (csv,) = [m for m in parts if m.name == "records.csv"]
    forged = zips.Member.of("attachments/A-1.jpg", b"a forged photo")
    hidden = zips.DESCRIPTOR.pack(b"PK\x07\x08", csv.crc, len(csv.deflated), csv.size) + zips.local_entry(forged)
    data = zips.assemble(zips.changed(parts, "records.csv", tail=hidden))
    with zipfile.ZipFile(io.BytesIO(data)) as z, zipfile.ZipFile(bundle) as real:
        assert z.read("records.csv") == real.read("records.csv")  # a directory reader sees nothing amiss
    report = _verify_bytes(tmp_path, data)
    assert report.signature_ok
    assert report.problems == [
        f"the ZIP's entry 'records.csv' has a deflate stream that ends {len(hidden)} bytes before the end the "
        "central directory gives: those bytes could hold an entry that only some readers see"
    ]


def test_a_deflate_stream_that_does_not_end_is_refused(tmp_path: Path, bundle: Path) -> None:
    parts = zips.members(bundle)
    with zipfile.ZipFile(bundle) as real:
        text = real.read("redactions.json")
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    unfinished = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)  # no final block
    report = _verify_bytes(tmp_path, zips.assemble(zips.changed(parts, "redactions.json", deflated=unfinished)))
    assert (
        "the ZIP's entry 'redactions.json' has a deflate stream that does not end where the central directory "
        "says its data ends"
    ) in report.problems
    assert not report.ok


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"local_name": "records.jsonX"}, "has another name in its local header than in the central directory"),
        (
            {"local_flags": 0x0800},
            "has flags 0x0800 in its local header and 0x0808 in the central directory, where every bundle entry "
            "has 0x0808",
        ),
        (
            {"local_flags": 0x0809},
            "has flags 0x0809 in its local header and 0x0808 in the central directory, where every bundle entry "
            "has 0x0808",
        ),
        (
            {"descriptor": zips.DESCRIPTOR.pack(b"PK\x07\x08", 0, 0, 0)},
            "has no data descriptor after its data that agrees with the central directory",
        ),
    ],
)
def test_a_local_header_or_data_descriptor_that_disagrees_with_the_directory_is_refused(
    tmp_path: Path, bundle: Path, changes: dict[str, object], problem: str
) -> None:
    report = _verify_bytes(tmp_path, zips.assemble(zips.changed(zips.members(bundle), "records.jsonl", **changes)))
    assert report.signature_ok
    assert report.problems[0] == f"the ZIP's entry 'records.jsonl' {problem}"  # zipfile may notice more after it


def test_an_entry_without_a_data_descriptor_is_refused_since_the_writer_always_writes_one(
    tmp_path: Path, bundle: Path
) -> None:
    """Both headers agree on a ZIP without data descriptors: still not what the writer makes."""
    parts = zips.changed(zips.members(bundle), "records.jsonl", flags=0x0800, descriptor=b"")
    report = _verify_bytes(tmp_path, zips.assemble(parts))
    assert (
        "the ZIP's entry 'records.jsonl' has flags 0x0800 in its local header and 0x0800 in the central "
        in (report.problems[0])
    )


def test_a_stored_entry_is_refused(tmp_path: Path, bundle: Path) -> None:
    parts = zips.members(bundle)
    with zipfile.ZipFile(bundle) as real:
        text = real.read("exclusions.json")
    report = _verify_bytes(tmp_path, zips.assemble(zips.changed(parts, "exclusions.json", method=0, deflated=text)))
    assert (
        "the ZIP's entry 'exclusions.json' is not deflated in its local header and the central directory, as every "
        "bundle entry is"
    ) in report.problems


def test_a_crc_the_data_does_not_have_is_refused(tmp_path: Path, bundle: Path) -> None:
    parts = zips.members(bundle)
    (csv,) = [m for m in parts if m.name == "records.csv"]
    report = _verify_bytes(tmp_path, zips.assemble(zips.changed(parts, "records.csv", crc=csv.crc ^ 1)))
    assert "the ZIP's entry 'records.csv' inflates to another size or CRC-32 than the central directory gives" in (
        report.problems
    )
    assert not report.ok


def test_bytes_between_entries_or_an_entry_the_directory_does_not_name_are_refused(
    tmp_path: Path, bundle: Path
) -> None:
    parts = zips.members(bundle)
    gap = zips.changed(parts, "consent/P-9.json", before=b"\x00" * 16)
    report = _verify_bytes(tmp_path, zips.assemble(gap))
    assert report.signature_ok
    assert report.problems == ["the ZIP has bytes no entry accounts for before 'consent/P-9.json'"]
    unlisted = zips.Member.of("attachments/A-9.jpg", b"only a streaming reader sees this")
    at = [m.name for m in parts].index("consent/P-9.json")
    hidden = [*parts[:at], dataclasses.replace(unlisted, listed=False), *parts[at:]]
    report = _verify_bytes(tmp_path, zips.assemble(hidden))
    assert report.problems == ["the ZIP has bytes no entry accounts for before 'consent/P-9.json'"]
    last = [*parts, dataclasses.replace(unlisted, listed=False)]
    report = _verify_bytes(tmp_path, zips.assemble(last))
    assert report.problems == ["the ZIP has bytes no entry accounts for before its central directory"]


def test_two_directory_entries_for_one_local_entry_are_refused(tmp_path: Path, bundle: Path) -> None:
    """The central directory names a second file at the offset of another: the entries overlap."""
    data = bytearray(zips.assemble(zips.members(bundle)))
    with zipfile.ZipFile(bundle) as z:
        first, second, directory = z.getinfo("records.jsonl"), z.getinfo("records.csv"), z.start_dir
    # The ZIP64 extra of records.csv's central record (tag, size, size, compressed size) ends with its offset.
    offset_at = bytes(data).index(b"records.csv", directory) + len("records.csv") + 4 + 16
    assert int.from_bytes(data[offset_at : offset_at + 8], "little") == second.header_offset
    data[offset_at : offset_at + 8] = first.header_offset.to_bytes(8, "little")
    report = _verify_bytes(tmp_path, bytes(data))
    assert "the ZIP's entry 'records.csv' overlaps the entry before it" in report.problems
    assert not report.ok


def test_bytes_after_the_end_record_are_refused(tmp_path: Path, bundle: Path) -> None:
    report = _verify_bytes(tmp_path, zips.assemble(zips.members(bundle), after=b"PK\x03\x04more"))
    assert report.signature_ok
    assert report.problems == ["the ZIP has bytes after its end of central directory record"]


def test_the_standalone_verifier_refuses_a_hidden_entry_on_a_stock_debian_python(tmp_path: Path, bundle: Path) -> None:
    parts = zips.members(bundle)
    hidden = zips.local_entry(zips.Member.of("attachments/A-7.jpg", b"forged"))
    crafted = tmp_path / "crafted.zip"
    crafted.write_bytes(zips.assemble(zips.changed(parts, "records.jsonl", tail=hidden)))
    copy = tmp_path / "verify_bundle.py"
    copy.write_bytes((REPO / "app" / "exports" / "verify_bundle.py").read_bytes())
    run = subprocess.run(
        ["/usr/bin/python3", "-I", str(copy), str(crafted), "--key", fingerprint(SIGNER)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1, run.stdout + run.stderr
    assert "PROBLEM: the ZIP's entry 'records.jsonl' has a deflate stream that ends" in run.stdout
