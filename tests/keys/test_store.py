"""The service refuses to start on a bad key or an unprotected key outside development."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from app.cli import cli
from app.core.config import AuditSettings, KeySettings, PasswordHashSettings, Settings
from app.crypto import keyring as kr
from app.keys.store import load_keyring, write_private_file
from app.main import create_app
from tests.conftest import CHEAP_SCRYPT, production
from tests.support.database import ProvisionedDatabase

PASSPHRASE = "correct horse battery staple"


def _prod(settings: Settings, **keys: object) -> Settings:
    secret = {k: SecretStr(v) if isinstance(v, str) else v for k, v in keys.items()}
    return production(settings, keys=settings.keys.model_copy(update=secret))


def _protect(key_file: Path) -> None:
    keyring = kr.loads(key_file.read_bytes(), None)
    write_private_file(key_file, kr.dumps(keyring, PASSPHRASE, CHEAP_SCRYPT))


def _fingerprint(*paths: Path) -> list[str]:
    return [hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else "-" for p in paths]


def test_plain_key_file_is_refused_outside_development(settings: Settings) -> None:
    with pytest.raises(Exception, match="not passphrase-protected"):
        create_app(_prod(settings))


def test_protected_key_file_is_accepted_outside_development(settings: Settings, key_file: Path) -> None:
    _protect(key_file)
    app = create_app(_prod(settings, passphrase=PASSPHRASE))
    assert app.state.keys.current.kek_primary == 1
    app.state.engine.dispose()


def test_protected_key_file_with_wrong_passphrase_is_refused(settings: Settings, key_file: Path) -> None:
    _protect(key_file)
    with pytest.raises(Exception, match="wrong passphrase"):
        load_keyring(_prod(settings, passphrase="not it at all"))


def test_protected_key_file_without_passphrase_says_what_to_set(settings: Settings, key_file: Path) -> None:
    _protect(key_file)
    with pytest.raises(Exception, match="TESTIMONY_KEYS__PASSPHRASE"):
        load_keyring(_prod(settings))


def test_placeholder_keys_are_refused(settings: Settings, key_file: Path) -> None:
    doc = json.loads(key_file.read_text())
    doc["kek"]["1"] = "A" * 43 + "="  # 32 zero bytes
    write_private_file(key_file, json.dumps(doc).encode())
    with pytest.raises(Exception, match="placeholder"):
        load_keyring(settings)


def test_key_file_readable_by_others_is_refused(settings: Settings, key_file: Path) -> None:
    key_file.chmod(0o644)
    with pytest.raises(Exception, match="chmod 600"):
        load_keyring(settings)


def test_env_material_outside_development_must_be_protected(settings: Settings, key_file: Path) -> None:
    material = key_file.read_text()
    s = _prod(settings, file=None, material=material)
    with pytest.raises(Exception, match="not passphrase-protected"):
        load_keyring(s)
    _protect(key_file)
    protected = _prod(settings, file=None, material=key_file.read_text(), passphrase=PASSPHRASE)
    assert load_keyring(protected).kek_primary == 1


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.unlink(), "no key file"),
        (lambda p: p.write_text("not json"), "not valid JSON"),
        (lambda p: p.write_text('{"format": "something-else"}'), "not a Testimony Vault keyring"),
        (lambda p: p.write_text(json.dumps({"format": kr.PLAIN_FORMAT, "kek": {}})), "malformed"),
    ],
    ids=["missing", "garbage", "foreign", "truncated"],
)
def test_serve_refuses_a_bad_key_file_and_changes_nothing(
    database: ProvisionedDatabase,
    key_file: Path,
    tmp_path: Path,
    damage: object,
    message: str,
) -> None:
    assert callable(damage)
    damage(key_file)
    if key_file.exists():
        key_file.chmod(0o600)
    watched = [key_file, *(database.path.parent.glob("testimony.db*") if database.path else [])]
    before = _fingerprint(*watched)
    env = {
        "TESTIMONY_DEVELOPMENT": "true",
        "TESTIMONY_DATA_DIR": str(tmp_path / "var"),
        "TESTIMONY_DATABASE__URL": database.url,
        "TESTIMONY_KEYS__FILE": str(key_file),
    }
    result = CliRunner().invoke(cli, ["serve", "--port", "1"], env=env)
    assert result.exit_code == 2
    assert message in result.output
    assert "refusing to start" in result.output
    assert _fingerprint(*watched) == before


def test_init_outside_development_requires_protection(tmp_path: Path) -> None:
    env = {
        "TESTIMONY_DATA_DIR": str(tmp_path / "prod"),
        "TESTIMONY_DEVELOPMENT": "false",
        "TESTIMONY_AUDIT__ORIGIN": "vault.test.invalid/audit",
    }
    result = CliRunner().invoke(cli, ["init"], env=env)
    assert result.exit_code == 2
    assert "testimony init --protect" in result.output
    assert not (tmp_path / "prod" / "keyring.json").exists()


def test_keys_protect_wraps_the_file(key_file: Path, database: ProvisionedDatabase) -> None:
    env = {
        "TESTIMONY_DEVELOPMENT": "true",
        "TESTIMONY_DATABASE__URL": database.url,
        "TESTIMONY_KEYS__FILE": str(key_file),
        "TESTIMONY_KEYS__PASSPHRASE": PASSPHRASE,
    }
    original = kr.loads(key_file.read_bytes(), None)
    result = CliRunner().invoke(cli, ["keys", "protect"], env=env)
    assert result.exit_code == 0, result.output
    assert kr.is_protected(key_file.read_bytes())
    assert kr.loads(key_file.read_bytes(), PASSPHRASE) == original


def test_a_key_provider_is_accepted_outside_development(settings: Settings) -> None:
    from tests.support.kms import factory

    prod = production(settings, keys=KeySettings(provider="tests.support.kms:factory"))
    app = create_app(prod)
    assert app.state.keys.current == factory().load()
    app.state.engine.dispose()
    broken = production(settings, keys=KeySettings(provider="nowhere.at_all:make"))
    with pytest.raises(Exception, match="cannot be imported; expected module:factory"):
        create_app(broken)


def test_production_refuses_placeholder_origin_and_weak_password_hashing(settings: Settings, key_file: Path) -> None:
    _protect(key_file)
    prod = _prod(settings, passphrase=PASSPHRASE)
    placeholder = prod.model_copy(update={"audit": AuditSettings()})
    with pytest.raises(Exception, match="TESTIMONY_AUDIT__ORIGIN"):
        create_app(placeholder)
    weak = prod.model_copy(update={"passwords": PasswordHashSettings(time_cost=1, memory_kib=65536, parallelism=1)})
    with pytest.raises(Exception, match="OWASP"):
        create_app(weak)


def test_init_refuses_an_unready_production_configuration_before_writing_anything(tmp_path: Path) -> None:
    env = {
        "TESTIMONY_DATA_DIR": str(tmp_path / "prod"),
        "TESTIMONY_DEVELOPMENT": "false",
        "TESTIMONY_KEYS__PASSPHRASE": PASSPHRASE,
    }
    result = CliRunner().invoke(cli, ["init", "--protect"], env=env)
    assert result.exit_code == 2
    assert "TESTIMONY_AUDIT__ORIGIN" in result.output
    assert not (tmp_path / "prod").exists()
