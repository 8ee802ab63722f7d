"""A bundle verifies with `testimony exports verify`, the standalone verifier and `sha256sum -c`; any changed
byte, added or missing file, or another signing key fails it."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.crypto import keyring as kr
from app.crypto import signing
from app.exports import bundle as bundle_module
from app.exports import verify_bundle as vb
from app.exports.bundle import Bundle, Entry
from app.exports.manifest import CustodyLink
from app.exports.verifier import verifier_sha256, verifier_source
from tests.support.bundles import README, fingerprint, info, sample_entries, standalone, write_bundle

SIGNER = kr.generate().signer


@pytest.fixture
def bundle(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.zip"
    write_bundle(path, SIGNER)
    return path


def _extract(bundle: Path, into: Path) -> Path:
    subprocess.run(["/usr/bin/unzip", "-q", str(bundle), "-d", str(into)], check=True)
    return into


def _verify(path: Path, key: str) -> vb.BundleReport:
    return vb.verify_bundle(path, vb.read_key(key))


def test_a_bundle_holds_the_files_then_readme_sums_manifest_and_signature_at_a_fixed_time(bundle: Path) -> None:
    with zipfile.ZipFile(bundle) as z:
        names = z.namelist()
        assert names == [
            "records.jsonl", "records.csv", "attachments/A-1.jpg", "consent/P-9.json", "redactions.json",
            "exclusions.json", "README.txt", "SHA256SUMS", "manifest.json", "manifest.sig",
        ]  # fmt: skip
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        manifest = json.loads(z.read("manifest.json"))
        readme = z.read("README.txt").decode()
    assert manifest["export_id"] == "EXP-7Q2M"
    assert manifest["requester"] == {"role": "legal", "id": "P-1"}
    assert manifest["approvers"] == [{"role": "custodian", "id": "P-2"}, {"role": "custodian", "id": "P-3"}]
    assert manifest["built_at"] == "2026-11-30T09:15:00Z"
    assert manifest["consent_basis"] == {"R-0000": {"grants": ["G-1"], "level": "named_protected"}}
    assert manifest["signing_key"]["key_id"] == SIGNER.key_id
    assert manifest["signing_key"]["fingerprint"] == fingerprint(SIGNER)
    assert set(manifest["files"]) == set(names) - {"SHA256SUMS", "manifest.json", "manifest.sig"}
    assert manifest["files"]["attachments/A-1.jpg"]["size"] == 256 * 300
    assert "criminal_investigation" in readme
    assert README.recall in readme
    assert fingerprint(SIGNER) in readme
    assert verifier_sha256() in readme


def test_the_same_input_gives_the_same_bytes(tmp_path: Path, bundle: Path) -> None:
    again = tmp_path / "again.zip"
    write_bundle(again, SIGNER)
    assert again.read_bytes() == bundle.read_bytes()


def test_a_bundle_verifies_with_the_command_line_the_standalone_file_and_sha256sum(
    tmp_path: Path, bundle: Path
) -> None:
    result = CliRunner().invoke(cli, ["exports", "verify", str(bundle), "--key", fingerprint(SIGNER)])
    assert result.exit_code == 0, result.output
    assert "OK: the signature, every file, SHA256SUMS and every custody proof hold" in result.output
    assert "files checked: 8" in result.output  # with README.txt and SHA256SUMS

    alone = standalone(tmp_path, str(bundle), "--key", fingerprint(SIGNER))
    assert alone.returncode == 0, alone.stdout + alone.stderr
    assert alone.stdout.endswith("OK: the signature, every file, SHA256SUMS and every custody proof hold\n")

    tree = _extract(bundle, tmp_path / "tree")
    sums = subprocess.run(
        ["/usr/bin/sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=tree, capture_output=True, text=True
    )
    assert sums.returncode == 0, sums.stdout + sums.stderr
    assert sums.stdout.count(": OK\n") == 7
    # The extracted folder verifies as the ZIP does, with the whole key as well as its fingerprint.
    whole_key = base64.b64encode(SIGNER.public_key).decode()
    assert standalone(tmp_path, str(tree), "--key", whole_key).returncode == 0


@pytest.mark.parametrize(
    "name",
    ["records.jsonl", "records.csv", "attachments/A-1.jpg", "consent/P-9.json", "redactions.json",
     "exclusions.json", "README.txt", "SHA256SUMS", "manifest.json", "manifest.sig"],
)  # fmt: skip
def test_one_flipped_byte_in_any_file_fails(tmp_path: Path, bundle: Path, name: str) -> None:
    tree = _extract(bundle, tmp_path / "tree")
    target = tree / name
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    report = _verify(tree, fingerprint(SIGNER))
    assert not report.ok
    if name in ("manifest.json", "manifest.sig"):
        # A bad signature, or a manifest or signature that no longer even parses.
        assert report.problems, report.problems
        assert all(p.startswith(("manifest.sig is not", "manifest.json is not")) for p in report.problems)
    else:
        assert any(p.startswith(f"{name}: its SHA-256 is ") for p in report.problems), report.problems
    alone = standalone(tmp_path, str(tree), "--key", fingerprint(SIGNER))
    assert alone.returncode == 1
    assert "FAILED" in alone.stdout


def test_a_flipped_byte_inside_the_zip_fails(tmp_path: Path, bundle: Path) -> None:
    data = bytearray(bundle.read_bytes())
    with zipfile.ZipFile(bundle) as z:
        info = z.getinfo("attachments/A-1.jpg")
    # Inside the member's compressed data: past its local header (30 bytes, its name, no extra field).
    data[info.header_offset + 30 + len(info.filename) + info.compress_size // 2] ^= 0x10
    changed = tmp_path / "changed.zip"
    changed.write_bytes(bytes(data))
    report = _verify(changed, fingerprint(SIGNER))
    assert not report.ok
    assert any("attachments/A-1.jpg" in p for p in report.problems), report.problems


def test_an_added_or_a_missing_file_fails(tmp_path: Path, bundle: Path) -> None:
    tree = _extract(bundle, tmp_path / "tree")
    (tree / "attachments" / "A-2.jpg").write_bytes(b"slipped in")
    report = _verify(tree, fingerprint(SIGNER))
    assert report.problems == ["attachments/A-2.jpg is in the bundle but not in the manifest"]
    (tree / "attachments" / "A-2.jpg").unlink()
    (tree / "consent" / "P-9.json").unlink()
    report = _verify(tree, fingerprint(SIGNER))
    assert report.problems == ["consent/P-9.json is listed in the manifest but missing"]
    shutil.rmtree(tree)


def test_a_bundle_signed_by_another_key_fails_against_the_pinned_fingerprint(tmp_path: Path) -> None:
    other = kr.generate().signer
    forged = tmp_path / "forged.zip"
    write_bundle(forged, other)
    assert _verify(forged, fingerprint(other)).ok  # it is a well-made bundle, of another key
    report = _verify(forged, fingerprint(SIGNER))
    assert not report.ok
    assert report.problems == [
        f"the bundle's signing key (fingerprint {fingerprint(other)}) is not the pinned key {fingerprint(SIGNER)}"
    ]
    whole = _verify(forged, base64.b64encode(SIGNER.public_key).decode())
    assert f"the bundle names the signing key {fingerprint(other)}, not the pinned key {fingerprint(SIGNER)}" in (
        whole.problems
    )
    assert any(p.startswith("manifest.sig is not a valid signature") for p in whole.problems)
    alone = standalone(tmp_path, str(forged), "--key", fingerprint(SIGNER))
    assert alone.returncode == 1


def test_a_manifest_that_names_the_pinned_key_but_is_signed_by_another_fails(tmp_path: Path, bundle: Path) -> None:
    """Swapping only the signature (another key's, over the same manifest naming the real key) fails."""
    tree = _extract(bundle, tmp_path / "tree")
    other = kr.generate().signer
    manifest = (tree / "manifest.json").read_bytes()
    digest = hashlib.sha512(manifest).digest()
    (tree / "manifest.sig").write_bytes(base64.b64encode(other.sign(signing.MANIFEST_DIGEST_CONTEXT, digest)) + b"\n")
    report = _verify(tree, fingerprint(SIGNER))
    assert [p for p in report.problems if "signature" in p] == [
        "manifest.sig is not a valid signature over manifest.json by the pinned key: the manifest was changed, "
        "or another key signed it"
    ]
    # An audit checkpoint signature over the same bytes or digest is no manifest signature either, nor is the
    # right key's signature in the v1 way (over the bytes, with v1's context) of a manifest that says v2.
    for wrong in (
        SIGNER.sign_raw(manifest),
        SIGNER.sign_raw(digest),
        SIGNER.sign(signing.MANIFEST_CONTEXT, manifest),
        SIGNER.sign(signing.MANIFEST_CONTEXT, digest),
        SIGNER.sign(signing.MANIFEST_DIGEST_CONTEXT, hashlib.sha256(manifest).digest()),
    ):
        (tree / "manifest.sig").write_bytes(base64.b64encode(wrong) + b"\n")
        assert not _verify(tree, fingerprint(SIGNER)).ok
    (tree / "manifest.sig").write_bytes(base64.b64encode(SIGNER.sign(signing.MANIFEST_DIGEST_CONTEXT, digest)) + b"\n")
    assert _verify(tree, fingerprint(SIGNER)).ok  # the right one, made here, passes: the others failed for themselves


def test_the_key_is_required_and_must_be_a_key(tmp_path: Path, bundle: Path) -> None:
    assert standalone(tmp_path, str(bundle)).returncode == 2
    bad = standalone(tmp_path, str(bundle), "--key", "not-a-key")
    assert bad.returncode == 2
    assert "--key is neither a 64-hex-digit fingerprint" in bad.stderr
    cli_bad = CliRunner().invoke(cli, ["exports", "verify", str(bundle), "--key", "abc"])
    assert cli_bad.exit_code == 2


def test_names_the_writer_refuses(tmp_path: Path) -> None:
    for name in ("../escape.txt", "/abs.txt", "a//b", "README.txt", "manifest.json", "sp ace.txt", "x/.hidden"):
        with pytest.raises(ValueError):  # noqa: PT011 - each names the rule it breaks
            write_bundle(tmp_path / "x.zip", SIGNER, [Entry(name, [b"x"])])
    for entries in (
        [Entry("a.txt", [b"1"]), Entry("a.txt", [b"2"])],
        [Entry("a", [b"1"]), Entry("a/b.txt", [b"2"])],
        [Entry("a/b.txt", [b"1"]), Entry("a", [b"2"])],
    ):
        with pytest.raises(ValueError, match="same name"):
            write_bundle(tmp_path / "x.zip", SIGNER, entries)


def test_custody_links_must_name_files_of_the_bundle(tmp_path: Path) -> None:
    proof = Entry("custody/A-1.json", [b"{}"])
    with pytest.raises(ValueError, match="outside custody"):
        write_bundle(
            tmp_path / "x.zip",
            SIGNER,
            sample_entries([proof]),
            info([CustodyLink("custody/A-1.json", "attachments/none.jpg")]),
        )
    with pytest.raises(ValueError, match="no linked custody proof"):
        write_bundle(tmp_path / "x.zip", SIGNER, sample_entries([proof]), info())


def test_the_info_may_be_given_when_the_records_have_been_written(tmp_path: Path) -> None:
    """The build learns each record's consent basis as it streams them; the manifest is written last."""
    basis: dict[str, object] = {}

    def records() -> list[bytes]:
        out = []
        for i in range(3):
            basis[f"R-{i}"] = {"grants": [f"G-{i}"]}
            out.append(f'{{"record":"R-{i}"}}\n'.encode())
        return out

    bundle = Bundle([Entry("records.jsonl", iter(records()))], lambda: info(consent_basis=basis), SIGNER, README)
    path = tmp_path / "late.zip"
    path.write_bytes(b"".join(bundle.chunks()))
    with zipfile.ZipFile(path) as z:
        assert json.loads(z.read("manifest.json"))["consent_basis"] == {
            "R-0": {"grants": ["G-0"]}, "R-1": {"grants": ["G-1"]}, "R-2": {"grants": ["G-2"]}
        }  # fmt: skip
    assert bundle.result["records.jsonl"].size == len(b"".join(records()))


def test_the_verifier_command_writes_the_standalone_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["exports", "verifier"])
    assert result.exit_code == 0
    assert result.stdout_bytes == verifier_source()
    assert f"sha256 {verifier_sha256()}  verify_bundle.py" in result.stderr


def test_the_standalone_run_refuses_any_import_beyond_the_standard_library_and_cryptography(tmp_path: Path) -> None:
    """The harness above can fail: the same file importing a module of the app, or another package, is refused."""
    for extra in (b"import app.crypto\n", b"import yaml\n"):
        source = verifier_source().replace(b"import zlib\n", b"import zlib\n" + extra, 1)
        result = standalone(tmp_path, "bundle.zip", "--key", "0" * 64, source=source)
        assert result.returncode == 1
        assert "ImportError: verify_bundle.py imported " in result.stderr


def test_the_names_check_is_exact_when_the_filter_suspects_every_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The names' filter is fixed in size, so it may suspect a name it never saw: a suspect is settled against
    every name at the end. With a filter of 8 bits every name is a suspect; distinct names still pass and a
    name twice, or a file named as a folder, still fails."""
    monkeypatch.setattr(bundle_module, "FILTER_BITS", 8)
    many = [Entry(f"consent/R-{i:04d}.json", [b"{}"]) for i in range(300)]
    built = write_bundle(tmp_path / "many.zip", SIGNER, [*sample_entries(), *many])
    assert built.count == len(sample_entries()) + 300 + 4  # and README.txt, SHA256SUMS, the manifest, its signature
    assert _verify(tmp_path / "many.zip", fingerprint(SIGNER)).ok
    for entries in (
        [*many, Entry("consent/R-0150.json", [b"{}"])],
        [*many, Entry("consent/R-0007.json/x", [b"{}"])],
        [Entry("consent", [b"{}"]), *many],
    ):
        with pytest.raises(ValueError, match="same name"):
            write_bundle(tmp_path / "x.zip", SIGNER, entries)


def test_a_v1_bundle_signed_over_its_bytes_still_verifies_and_cannot_be_confused_with_v2(
    tmp_path: Path, bundle: Path
) -> None:
    """Bundles built before format v2 were signed over manifest.json's bytes with the v1 context: the verifier
    still checks them that way. The format is inside the signed bytes: a v1 manifest signed the v2 way fails."""
    tree = _extract(bundle, tmp_path / "tree")
    doc = json.loads((tree / "manifest.json").read_bytes())
    assert doc["format"] == "testimony-vault/bundle-manifest/v2"
    doc["format"] = "testimony-vault/bundle-manifest/v1"
    manifest = json.dumps(doc, ensure_ascii=False, sort_keys=True, indent=1).encode() + b"\n"
    (tree / "manifest.json").write_bytes(manifest)
    (tree / "manifest.sig").write_bytes(base64.b64encode(SIGNER.sign(signing.MANIFEST_CONTEXT, manifest)) + b"\n")
    assert _verify(tree, fingerprint(SIGNER)).ok
    assert standalone(tmp_path, str(tree), "--key", fingerprint(SIGNER)).returncode == 0
    digest = hashlib.sha512(manifest).digest()
    (tree / "manifest.sig").write_bytes(base64.b64encode(SIGNER.sign(signing.MANIFEST_DIGEST_CONTEXT, digest)) + b"\n")
    assert not _verify(tree, fingerprint(SIGNER)).ok
