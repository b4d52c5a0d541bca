"""Tokens live only in the keyring: never in the database, the output, or the debug log."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import keyring
import pytest
from keyring.backends.fail import Keyring as NoKeyring
from keyrings.alt.file import PlaintextKeyring
from sqlalchemy import select

from hsm_console.db.engine import Database
from hsm_console.db.models import Site
from hsm_console.errors import ConfigurationError
from hsm_console.host.config import APP_DIRS
from hsm_console.host.credentials import (
    NO_BACKEND_HELP,
    CredentialStore,
    TokenSet,
    credential_key,
)
from hsm_console.host.identity import os_username
from hsm_console.rules.domain import Platform, Role
from hsm_console.services import admin
from hsm_sandbox import SandboxServer
from tests.cli_process import hsm
from tests.conftest import World

ROOT = Path(__file__).resolve().parents[1]
SECRET = "EAAB-real-looking-page-token-0123456789"


def real_site(world: World) -> Site:
    """A Police site that is not marked as the sandbox: it needs a token from the keyring."""
    with world.db.transaction() as session:
        police = admin.ensure_department(session, "POLICE", "Police Department")
        site = admin.ensure_site(
            session, police, Platform.FACEBOOK, "Police (real token)", "1000000000002",
            world.sandbox.url + "/", {"api_version": "v25.0"},
        )  # fmt: skip
        session.expunge(site)
        return site


def test_token_round_trip_through_the_keyring(world: World, file_keyring: PlaintextKeyring) -> None:
    site = real_site(world)
    store = CredentialStore()
    with pytest.raises(ConfigurationError, match="is not connected on this computer"):
        store.get(site)
    store.set(site, f"  {SECRET}\n")
    assert store.get(site) == SECRET
    entry = file_keyring.get_password("HSM Console", credential_key(site))
    assert entry is not None
    assert TokenSet.from_stored(entry) == TokenSet(SECRET)  # a JSON entry that can grow
    assert store.delete(site)
    assert not store.delete(site)


def test_sync_uses_the_keyring_token_and_never_stores_it(
    world: World, file_keyring: PlaintextKeyring
) -> None:
    site = real_site(world)
    world.sandbox.state.facebook.set_token("1000000000002", SECRET)
    CredentialStore().set(site, SECRET)
    results = world.app("carol").sync.sync([site.id])
    assert [r.error for r in results] == [""]
    assert results[0].new_comments > 0
    seen = world.sandbox.requests_seen(path_contains="1000000000002")
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in seen)
    assert all(SECRET not in r.query_string for r in seen)
    assert SECRET.encode() not in dump(world.db)


@pytest.mark.expected_log("sync of site")
def test_wrong_token_gives_plain_words_without_the_token(
    world: World, file_keyring: PlaintextKeyring
) -> None:
    site = real_site(world)
    CredentialStore().set(site, SECRET)  # the sandbox expects another one
    results = world.app("carol").sync.sync([site.id])
    # Graph's error 190 for a token that cannot renew: the site needs connecting again.
    assert "'Police (real token)' needs reconnecting" in results[0].error
    assert SECRET not in results[0].error
    with world.db.session() as session:
        stored = session.scalars(select(Site).where(Site.id == site.id)).one()
        assert SECRET not in str(stored.settings)


def test_no_keyring_backend_says_how_to_fix_it(world: World) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(NoKeyring())
    try:
        site = real_site(world)
        with pytest.raises(ConfigurationError) as caught:
            CredentialStore().set(site, SECRET)
        assert caught.value.message == NO_BACKEND_HELP
        assert "keyrings.alt" in NO_BACKEND_HELP
        with pytest.raises(ConfigurationError, match="No usable keyring"):
            CredentialStore().get(site)
    finally:
        keyring.set_keyring(previous)


def cli(
    database: str, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return hsm(
        "--database", database, *args, stdin=stdin,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
    )  # fmt: skip


def test_credentials_command(tmp_path: Path, sandbox: SandboxServer) -> None:
    database = f"sqlite:///{tmp_path / 'hsm.sqlite3'}"
    ring_file = tmp_path / "ring"
    env = {"XDG_DATA_HOME": str(ring_file)}  # keyrings.alt keeps its file under the data home
    assert cli(database, "demo", "--sandbox-url", sandbox.url).returncode == 0

    refused = cli(database, "credentials", "set", "1", stdin=SECRET, env=env)
    assert refused.returncode == 1
    assert "Only an administrator may change platform credentials" in refused.stderr

    db = Database(database)
    with db.transaction() as session:
        me = admin.ensure_person(session, os_username())
        admin.grant(session, me, Role.ADMINISTRATOR, None)
    db.dispose()
    stored = cli(
        database, "credentials", "set", "Highland Parks & Recreation", stdin=SECRET, env=env
    )
    assert stored.returncode == 0, stored.stderr
    assert "is stored in this computer's keyring" in stored.stdout
    assert SECRET not in stored.stdout + stored.stderr
    assert SECRET.encode() not in (tmp_path / "hsm.sqlite3").read_bytes()
    log_folder = Path(APP_DIRS.user_log_dir)
    for log_file in log_folder.glob("*.log*"):
        assert SECRET not in log_file.read_text(encoding="utf-8", errors="replace")

    no_backend = cli(
        database, "credentials", "set", "1", stdin=SECRET,
        env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )  # fmt: skip
    assert no_backend.returncode == 1
    assert "No usable keyring" in no_backend.stderr


def dump(db: Database) -> bytes:
    """Every value in every table, as bytes, to search for a secret."""
    from hsm_console.db.models import Base

    chunks: list[bytes] = []
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            for row in conn.execute(table.select()):
                chunks.append(repr(tuple(row)).encode())
    return b"\n".join(chunks)
