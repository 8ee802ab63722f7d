"""`testimony keys`: status, rotation, re-wrapping, re-sealing, pruning and protection of the keyring."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.audit import note
from app.audit import service as audit
from app.audit.vocabulary import AuditAction
from app.cli_support import (
    SYSTEM,
    JsonOption,
    console,
    counted,
    fail,
    group,
    new_passphrase,
    open_factory,
    out,
    print_json,
    progress,
    record,
    recorded,
)
from app.core.config import get_settings
from app.core.db import unit_of_work
from app.core.errors import ConfigError
from app.crypto.errors import KeyringError
from app.crypto.keyring import Keyring
from app.crypto.signing import fingerprint
from app.keys import service as keys_service
from app.keys.store import FileKeyStore, Keys, KeyStore, open_keys, prompt_passphrase
from app.people import reseal

Rewrapper = Callable[..., keys_service.RotationResult]
RESEAL_RESOURCE = "sealed_values"

BatchSize = Annotated[int, typer.Option(min=1, max=10_000, metavar="N", help="Rows per transaction.")]
# A batch of data keys re-wraps in tens of milliseconds: short write transactions, few commits.
REWRAP_BATCH = 2000

keys_cli = group("Key custody: status, rotations, rewrap, reseal, protect.")


def status_json(st: keys_service.KeyStatus, fingerprint_hex: str, vkey: str) -> dict[str, object]:
    """The shape of `keys status --json` (README: the command line)."""
    return {
        "kek_versions": st.kek_versions,
        "kek_primary": st.kek_primary,
        "kek_retired": st.kek_retired,
        "root_primary": st.root_primary,
        "signing_key_id": st.signing_key_id,
        "signing_key_fingerprint": fingerprint_hex,
        "verifier_key": vkey,
        "data_keys_by_kek": {str(v): n for v, n in sorted(st.data_keys_by_version.items())},
        "pending_rewrap": st.pending_rewrap,
    }


@keys_cli.command("status")
def keys_status(as_json: JsonOption = False) -> None:
    """Show key versions, data keys per KEK and the key to pin. Values are never cut."""
    settings = get_settings()
    with _keys_and_database() as (_store, keyring, factory):
        with unit_of_work(factory) as session:
            st = keys_service.status(session, SYSTEM, keyring)
        record(factory, AuditAction.KEYS_STATUS)
    signer = keyring.signer
    doc = status_json(st, fingerprint(signer.public_key), note.vkey(settings.audit.origin, signer.public_key))
    if as_json:
        print_json(doc)
        return
    rows = [
        ("KEK versions", ", ".join(map(str, st.kek_versions))),
        ("primary KEK", str(st.kek_primary)),
        ("retired KEKs", ", ".join(map(str, st.kek_retired)) or "-"),
        ("derivation root", f"version {st.root_primary}"),
        ("signing key id", st.signing_key_id),
        ("signing key fingerprint", str(doc["signing_key_fingerprint"])),
        ("verifier key (pin this)", str(doc["verifier_key"])),
        *((f"data keys under KEK {v}", str(n)) for v, n in sorted(st.data_keys_by_version.items())),
        ("pending re-wrap", str(st.pending_rewrap)),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        # One line per value, never wrapped or cut, whatever the width: values here are pinned by copying them.
        out.print(f"{label + ':':<{width + 1}} {value}", soft_wrap=True, markup=False, highlight=False)


@contextmanager
def _keys_and_database() -> Iterator[tuple[KeyStore, Keyring, sessionmaker[Session]]]:
    """The key store (under the same rules as the service) and the database, for one command."""
    settings = get_settings()
    try:
        keys = open_keys(settings, prompt_passphrase)
    except (ConfigError, KeyringError) as exc:
        raise fail(str(exc)) from None
    engine, factory = open_factory(settings)
    try:
        yield keys.store, keys.current, factory
    finally:
        engine.dispose()


def _rewrap_command(action: AuditAction, run: Rewrapper, batch_size: int) -> keys_service.RotationResult:
    with _keys_and_database() as (store, _keyring, factory):
        with recorded(factory, action), progress() as bar:
            task = bar.add_task("re-wrapping data keys", total=None)
            try:
                result = run(
                    SYSTEM,
                    factory,
                    store,
                    batch_size=batch_size,
                    on_start=lambda total: bar.update(task, total=total),
                    on_batch=lambda n: bar.advance(task, n),
                )
            except KeyringError as exc:
                raise fail(str(exc)) from None
        outcome = audit.Outcome.FAILED if result.unreadable else audit.Outcome.ALLOWED
        record(factory, action, outcome, str(result.kek_primary))
    if result.unreadable:
        console.print(
            f"{counted(len(result.unreadable), 'data key')} would not unwrap and were left as they are "
            f"(damaged or moved rows): {', '.join(str(u) for u in result.unreadable[:20])}",
            soft_wrap=True,
            markup=False,
        )
    return result


@keys_cli.command("rotate")
def keys_rotate(batch_size: BatchSize = REWRAP_BATCH) -> None:
    """Make a new primary KEK and re-wrap every data key. Resumes if interrupted."""
    result = _rewrap_command(AuditAction.KEYS_ROTATE, keys_service.rotate, batch_size)
    verb = "resumed rotation to" if result.resumed else "rotated to"
    out.print(
        f"{verb} KEK {result.kek_primary}; re-wrapped {counted(result.rewrapped, 'data key')}; "
        f"retired KEK versions: {', '.join(map(str, result.retired)) or 'none'}"
    )
    out.print("Back up the key file now. Restart the workers, then run `testimony keys rewrap`.")
    if result.unreadable:
        raise typer.Exit(1)


@keys_cli.command("rotate-signing")
def keys_rotate_signing() -> None:
    """Make a new signing key. The old one is retired and signs the transition to it, published with the keys."""
    with _keys_and_database() as (store, _keyring, factory):
        try:
            keys_service.refuse_unchangeable(store)
        except KeyringError as exc:
            raise fail(str(exc)) from None
        with recorded(factory, AuditAction.KEYS_ROTATE_SIGNING):
            try:
                result = keys_service.rotate_signing(SYSTEM, store, factory)
            except KeyringError as exc:
                raise fail(str(exc)) from None
        record(factory, AuditAction.KEYS_ROTATE_SIGNING, audit.Outcome.ALLOWED, result.new_key_id)
    out.print(f"signing key {result.old_key_id} retired; new signing key {result.new_key_id}", soft_wrap=True)
    out.print(f"new fingerprint: {result.new_fingerprint}", soft_wrap=True, markup=False, highlight=False)
    out.print(
        "Back up the key file now. Running services sign with the new key from their next checkpoint or bundle. "
        "Announce the new fingerprint to recipients and auditors through a channel other than this server "
        "(docs/operations.md: signing key rotation).",
        soft_wrap=True,
    )


@keys_cli.command("rewrap")
def keys_rewrap(batch_size: BatchSize = REWRAP_BATCH) -> None:
    """Re-wrap data keys still under an older KEK. Run it once all workers reloaded; no new KEK is made."""
    result = _rewrap_command(AuditAction.KEYS_REWRAP, keys_service.rewrap, batch_size)
    out.print(f"re-wrapped {counted(result.rewrapped, 'data key')} under KEK {result.kek_primary}")
    if result.unreadable:
        raise typer.Exit(1)


@keys_cli.command("reseal")
def keys_reseal(batch_size: BatchSize = 500) -> None:
    """Seal values made before AAD v2 again. They become bound to the clear columns that decide access; resumable."""
    with _keys_and_database() as (store, keyring, factory):
        with recorded(factory, AuditAction.KEYS_RESEAL, RESEAL_RESOURCE), progress() as bar:
            task = bar.add_task("re-sealing people's values", total=None)
            result = reseal.reseal(
                SYSTEM,
                factory,
                Keys(store, keyring),
                batch_size=batch_size,
                on_start=lambda total: bar.update(task, total=total),
                on_batch=lambda n: bar.advance(task, n),
            )
        outcome = audit.Outcome.ALLOWED if result.complete else audit.Outcome.FAILED
        record(factory, AuditAction.KEYS_RESEAL, outcome, resource_type=RESEAL_RESOURCE)
    out.print(f"re-sealed {counted(result.resealed, 'value')}")
    if result.complete:
        out.print("Every value is sealed as v2; values in the old format are no longer accepted.")
        return
    if result.unreadable:
        console.print(
            f"{counted(len(result.unreadable), 'row')} would not open and were left as they are "
            f"(damaged or moved rows, or old values put back): {', '.join(result.unreadable[:20])}",
            soft_wrap=True,
            markup=False,
        )
    else:
        console.print("Values in the old format were put back while it ran.")
    accepted = "still accepted" if result.accepts_v1 else "no longer accepted: these rows cannot be read"
    console.print(f"The old format is {accepted}. Investigate them, then run `testimony keys reseal` again.")
    raise typer.Exit(1)


@keys_cli.command("prune")
def keys_prune(
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: backups older than now cannot be restored.")] = False,
) -> None:
    """Destroy retired KEKs that wrap no data key. Backups that still need them become unreadable."""
    if not yes:
        raise fail("pass --yes once every backup taken before the last rotation has expired")
    with _keys_and_database() as (store, _keyring, factory):
        with recorded(factory, AuditAction.KEYS_PRUNE):
            try:
                removed = keys_service.prune(SYSTEM, factory, store)
            except KeyringError as exc:
                raise fail(str(exc)) from None
        record(factory, AuditAction.KEYS_PRUNE, audit.Outcome.ALLOWED, ",".join(map(str, removed)) or None)
    out.print(f"destroyed KEK versions: {', '.join(map(str, removed)) or 'none'}")


@keys_cli.command("protect")
def keys_protect() -> None:
    """Put a plain key file under a passphrase. It is wrapped with scrypt and AES-256-GCM."""
    settings = get_settings()
    path = settings.key_file
    try:
        FileKeyStore(path, None).load()
    except KeyringError as exc:
        raise fail(str(exc)) from None
    passphrase = new_passphrase(settings)
    store = FileKeyStore(path, passphrase)

    def protect(factory: sessionmaker[Session] | None) -> None:
        # Loaded again under the locks and written only if unchanged since: a rotation meanwhile is kept.
        def change(keyring: Keyring, _session: Session | None) -> None:
            store.save(keyring, protect=True)

        try:
            keys_service.update(store, change, factory=factory)
        except KeyringError as exc:
            raise fail(str(exc)) from None

    engine, factory = open_factory(settings)
    try:
        try:
            record(factory, AuditAction.KEYS_PROTECT, audit.Outcome.STARTED)
        except SQLAlchemyError:
            console.print("not recorded in the audit log: the database is not initialised yet (run `testimony init`)")
            protect(None)
        else:
            with recorded(factory, AuditAction.KEYS_PROTECT, started=False):
                protect(factory)
            record(factory, AuditAction.KEYS_PROTECT, audit.Outcome.ALLOWED)
    finally:
        engine.dispose()
    out.print(f"{path} is now passphrase-protected. Keep the passphrase apart from the file.")
