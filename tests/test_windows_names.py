"""What a City workstation gives the console, reproduced on any OS: profile folders with
spaces, accents and apostrophes (C:\\Users\\Zoë Núñez-O'Brien\\AppData\\Local\\...) and
DOMAIN\\name accounts (what GetUserNameExW returns on Windows)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

import hsm_console.app as app_module
from hsm_console.app import open_app
from hsm_console.db.models import Comment, LogEntry
from hsm_console.host.config import APP_DIRS, default_database_url, load_settings
from hsm_console.rules.domain import Action, Role
from hsm_console.services import admin
from hsm_console.services.verify import verify_log
from tests.conftest import World

WINDOWS_ACCOUNT = "HIGHLAND\\zoë.núñez"
PROFILE = "Zoë Núñez-O'Brien"


def test_the_default_database_and_settings_in_a_profile_with_spaces_and_accents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = tmp_path / "Users" / PROFILE / "AppData Local"
    monkeypatch.setenv("XDG_DATA_HOME", str(profile / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(profile / "config"))
    monkeypatch.delenv("HSM_DATABASE_URL", raising=False)
    # The account cannot be a real Windows one here: what identity.py would read is given.
    monkeypatch.setattr(app_module, "os_username", lambda: WINDOWS_ACCOUNT)
    seals = profile / "Records — sealed"
    config = Path(APP_DIRS.user_config_dir) / "hsm-console.toml"
    config.parent.mkdir(parents=True)
    # A JSON string is a TOML basic string: backslashes of Windows paths escaped.
    config.write_text(f"seals_folder = {json.dumps(str(seals))}\n", encoding="utf-8")

    settings = load_settings()
    assert settings.database_url == default_database_url()
    assert settings.seals_folder == seals
    app = open_app(settings, claim_first_run=True)
    try:
        assert app.username == WINDOWS_ACCOUNT
        assert app.first_run is not None
        assert verify_log(app.db).ok
    finally:
        app.close()
    database = Path(APP_DIRS.user_data_dir) / "hsm-console.sqlite3"
    assert PROFILE in str(database)
    assert database.is_file()
    again = open_app(load_settings())  # the same file, found again by its name
    try:
        assert again.first_run is None
        with again.db.session() as session:
            actors = set(session.scalars(select(LogEntry.actor)))
        assert actors == {WINDOWS_ACCOUNT}
    finally:
        again.close()


def test_a_domain_account_moderates_and_its_entries_verify(world: World) -> None:
    with world.db.transaction() as session:
        parks = admin.ensure_department(session, "PARKS", "Parks & Recreation")
        person = admin.ensure_person(session, WINDOWS_ACCOUNT, "Zoë Núñez")
        admin.grant(session, person, Role.MODERATOR, parks)
    zoe = world.app(WINDOWS_ACCOUNT)
    zoe.sync.sync()
    with world.db.session() as session:
        comment = session.scalars(
            select(Comment.id).where(Comment.site_id == world.parks_site).limit(1)
        ).one()
    result = zoe.moderation.act(comment, Action.HIDE, "PRF", "DOMAIN\\name test")
    assert result.ok, result.message
    with world.db.session() as session:
        entry = session.get(LogEntry, result.pending_entry_id)
        assert entry is not None
        assert entry.actor == WINDOWS_ACCOUNT
    assert verify_log(world.db).ok
