"""C2SP signed notes and checkpoints, checked against the Go reference implementation's own vectors."""

from __future__ import annotations

import base64

import pytest

from app.audit.note import (
    Checkpoint,
    NoteError,
    format_body,
    key_hash,
    parse_note,
    parse_vkey,
    sign_checkpoint,
    sign_note,
    verify_checkpoint,
    verify_note,
    vkey,
)
from app.crypto.signing import Signer

# From golang.org/x/mod/sumdb/note note_test.go: a fixed key pair, a note and its published signatures.
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"
)

# The example checkpoint of c2sp.org/tlog-checkpoint, with a witness cosignature (c2sp.org/tlog-cosignature).
SPEC_CHECKPOINT = (
    "example.com/behind-the-sofa\n"
    "20852163\n"
    "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    "\n"
    "\u2014 example.com/behind-the-sofa "
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 witness.example.com/w1 "
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)

ORIGIN = "vault.example.org/audit"
ROOT = bytes(range(32))


def _peter() -> Signer:
    raw = base64.b64decode(PETER_SKEY.split("+", 4)[-1])  # the base64 itself holds a "+"
    assert raw[0] == 0x01  # the Ed25519 algorithm byte, followed by the 32-byte seed
    return Signer.from_seed(raw[1:])


def _signer(n: int = 7) -> Signer:
    return Signer.from_seed(bytes([n]) * 32)


def test_go_vector_keys_and_signature_are_reproduced_byte_for_byte() -> None:
    peter = _peter()
    assert vkey("PeterNeumann", peter.public_key) == PETER_VKEY
    assert parse_vkey(PETER_VKEY) == ("PeterNeumann", peter.public_key)
    assert key_hash("PeterNeumann", peter.public_key).hex() == "c74f20a3"
    assert sign_note(TEXT, peter, "PeterNeumann") == TEXT + "\n" + PETER_SIG


def test_go_vector_notes_verify_including_a_signature_we_did_not_make() -> None:
    peter_name, peter_key = parse_vkey(PETER_VKEY)
    enoch_name, enoch_key = parse_vkey(ENOCH_VKEY)
    both = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert verify_note(both, peter_name, peter_key) == TEXT
    assert verify_note(both, enoch_name, enoch_key) == TEXT
    with pytest.raises(NoteError, match="not signed by"):
        verify_note(TEXT + "\n" + PETER_SIG, enoch_name, enoch_key)


def test_go_vector_corrupted_signature_is_rejected() -> None:
    name, key = parse_vkey(PETER_VKEY)
    with pytest.raises(NoteError, match="invalid signature"):
        verify_note(TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], name, key)
    with pytest.raises(NoteError, match="invalid signature"):
        verify_note(TEXT.replace("cryptography", "cryptographY") + "\n" + PETER_SIG, name, key)


@pytest.mark.parametrize(
    "message",
    [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name")[:-1],
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG.replace("\u2014", "-"),
    ],
)
def test_go_vector_malformed_notes_are_rejected(message: str) -> None:
    name, key = parse_vkey(PETER_VKEY)
    with pytest.raises(NoteError):
        verify_note(message, name, key)


def test_non_utf8_and_oversized_notes_are_rejected() -> None:
    name, key = parse_vkey(PETER_VKEY)
    good = (TEXT + "\n" + PETER_SIG).encode()
    assert verify_note(good, name, key) == TEXT
    with pytest.raises(NoteError, match="UTF-8"):
        verify_note(b"\xff" + good, name, key)
    with pytest.raises(NoteError, match="1 MiB"):
        verify_note(("x" * (1 << 20)) + "\n\n" + PETER_SIG, name, key)


def test_at_most_one_hundred_signatures() -> None:
    name, key = parse_vkey(PETER_VKEY)
    assert verify_note(TEXT + "\n" + PETER_SIG * 100, name, key) == TEXT
    with pytest.raises(NoteError, match="more than 100"):
        verify_note(TEXT + "\n" + PETER_SIG * 101, name, key)


def test_every_mangled_verifier_key_is_rejected() -> None:
    # Ported from the Go test: every proper substring and every single-byte change must fail.
    raw = PETER_VKEY.encode()
    mangled = {raw[i:j] for i in range(len(raw) + 1) for j in range(i + 1, len(raw) + 1)} - {raw}
    mangled |= {raw[:i] + bytes([raw[i] + 1]) + raw[i + 1 :] for i in range(len(raw))}
    for candidate in mangled:
        with pytest.raises(NoteError):
            parse_vkey(candidate.decode())


def test_verifier_keys_of_another_algorithm_or_length_are_rejected() -> None:
    # From the Go test: well-formed key hashes over an unknown algorithm byte or a wrong-length key.
    for candidate in [
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ]:
        with pytest.raises(NoteError):
            parse_vkey(candidate)


def test_vkey_round_trip() -> None:
    signer = _signer()
    text = vkey(ORIGIN, signer.public_key)
    assert text.startswith(ORIGIN + "+" + key_hash(ORIGIN, signer.public_key).hex() + "+")
    assert parse_vkey(text) == (ORIGIN, signer.public_key)
    with pytest.raises(NoteError):
        vkey("has space", signer.public_key)


def test_the_specification_checkpoint_parses_and_formats_back() -> None:
    cp, signatures = parse_note(SPEC_CHECKPOINT)
    assert cp == Checkpoint(
        "example.com/behind-the-sofa", 20852163, base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    )
    assert [s.key_name for s in signatures] == ["example.com/behind-the-sofa", "witness.example.com/w1"]
    assert signatures[0].key_hash == bytes.fromhex("033de0ae")
    assert len(signatures[0].signature) == 64
    assert format_body(cp).decode() + "\n" == SPEC_CHECKPOINT[: SPEC_CHECKPOINT.index("\u2014")]


def test_checkpoint_round_trip_with_extension_lines() -> None:
    signer = _signer()
    cp = Checkpoint(ORIGIN, 1234, ROOT, ("ext one", "ext two"))
    note = sign_checkpoint(cp, signer, ORIGIN)
    assert note.startswith(f"{ORIGIN}\n1234\n{base64.b64encode(ROOT).decode()}\next one\next two\n\n\u2014 {ORIGIN} ")
    assert verify_checkpoint(note, ORIGIN, signer.public_key) == cp
    parsed, signatures = parse_note(note)
    assert parsed == cp
    assert signatures[0].key_hash == key_hash(ORIGIN, signer.public_key)


def _signed() -> tuple[str, Signer]:
    signer = _signer()
    return sign_checkpoint(Checkpoint(ORIGIN, 1234, ROOT), signer, ORIGIN), signer


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("\n1234\n", "\n1235\n"),
        (ORIGIN + "\n", "vault.example.org/other\n"),
        (base64.b64encode(ROOT).decode(), base64.b64encode(bytes(32)).decode()),
    ],
)
def test_tampered_checkpoint_is_rejected(old: str, new: str) -> None:
    note, signer = _signed()
    assert old in note
    with pytest.raises(NoteError):
        verify_checkpoint(note.replace(old, new, 1), ORIGIN, signer.public_key)


def test_tampered_signature_is_rejected() -> None:
    note, signer = _signed()
    body, _, line = note.partition("\n\n")
    name, _, sig_b64 = line.strip().removeprefix("\u2014 ").partition(" ")
    blob = bytearray(base64.b64decode(sig_b64))
    blob[10] ^= 0x40
    forged = f"{body}\n\n\u2014 {name} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(NoteError, match="invalid signature"):
        verify_checkpoint(forged, ORIGIN, signer.public_key)


def test_wrong_key_or_key_name_is_rejected() -> None:
    note, signer = _signed()
    with pytest.raises(NoteError, match="not signed by"):
        verify_checkpoint(note, ORIGIN, _signer(8).public_key)
    with pytest.raises(NoteError, match="not signed by"):
        verify_checkpoint(note, "vault.example.org/other", signer.public_key)


def test_a_bad_line_claiming_our_key_spoils_a_good_one() -> None:
    note, signer = _signed()
    impostor = sign_checkpoint(Checkpoint(ORIGIN, 9999, ROOT), signer, ORIGIN)
    their_line = impostor[impostor.index("\u2014") :]
    with pytest.raises(NoteError, match="invalid signature"):
        verify_checkpoint(note + their_line, ORIGIN, signer.public_key)


def test_cosignatures_by_other_keys_are_ignored() -> None:
    note, signer = _signed()
    other = sign_checkpoint(Checkpoint(ORIGIN, 1234, ROOT), _signer(9), "witness.example.org")
    cosigned = note + other[other.index("\u2014") :]
    assert verify_checkpoint(cosigned, ORIGIN, signer.public_key).size == 1234


@pytest.mark.parametrize(
    "body",
    [
        f"{ORIGIN}\n01\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n+1\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n-1\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n{2**64}\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT[:31]).decode()}\n",
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode().rstrip('=')}\n",
        # The same 32 bytes with non-zero padding bits: a second spelling of one signed value.
        f"{ORIGIN}\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",
        f"{ORIGIN}\n1\n",
        f"\n1\n{base64.b64encode(ROOT).decode()}\n",
        f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode()}\n\next\n",
    ],
)
def test_malformed_checkpoint_bodies_are_rejected_even_when_signed(body: str) -> None:
    signer = _signer()
    note = sign_note(body, signer, ORIGIN)
    assert verify_note(note, ORIGIN, signer.public_key) == body
    with pytest.raises(NoteError):
        verify_checkpoint(note, ORIGIN, signer.public_key)


def test_body_without_trailing_newline_cannot_be_signed() -> None:
    with pytest.raises(NoteError, match="newline"):
        sign_note(f"{ORIGIN}\n1\n{base64.b64encode(ROOT).decode()}", _signer(), ORIGIN)


def test_unformattable_checkpoints_are_refused() -> None:
    for cp in [Checkpoint("", 1, ROOT), Checkpoint(ORIGIN, -1, ROOT), Checkpoint(ORIGIN, 1, ROOT[:31])]:
        with pytest.raises(NoteError):
            format_body(cp)


@pytest.mark.parametrize("control", ["\t", "\r", "\x00", "\x1b"])
def test_control_characters_are_refused_even_under_a_valid_signature(control: str) -> None:
    signer = _signer()
    body = f"{ORIGIN}{control}\n1\n{base64.b64encode(ROOT).decode()}\n"
    with pytest.raises(NoteError, match="control"):
        sign_note(body, signer, ORIGIN)
    blob = key_hash(ORIGIN, signer.public_key) + signer.sign_raw(body.encode())
    note = f"{body}\n\u2014 {ORIGIN} {base64.b64encode(blob).decode()}\n"
    with pytest.raises(NoteError, match="control"):
        verify_checkpoint(note, ORIGIN, signer.public_key)


def test_signature_lines_too_short_to_hold_a_key_hash_are_malformed() -> None:
    body = format_body(Checkpoint(ORIGIN, 1, ROOT)).decode()
    with pytest.raises(NoteError, match="malformed signature line"):
        parse_note(f"{body}\n\u2014 {ORIGIN} AAAA\n")
