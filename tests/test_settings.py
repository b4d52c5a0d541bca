"""Operations (issue 11, item 5): every setting has an environment variable and is listed in
the README; the debug log rotates in its folder and never holds a secret."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from pathlib import Path

import pytest

from hsm_console.errors import ConfigurationError
from hsm_console.host import config
from hsm_console.host.config import Settings, env_name, load_settings
from hsm_console.host.logsetup import BACKUPS, LOG_NAME, file_handler, redact

ROOT = Path(__file__).resolve().parents[1]
# Two valid values of each setting: one for the file, one for the environment.
VALUES: dict[str, tuple[str, str]] = {
    # PostgreSQL both: `actions_by = "agent"` is refused with a SQLite file.
    "database_url": (
        "postgresql://hsm@file.highland.local/hsm",
        "postgresql://hsm@db.highland.local/hsm",
    ),
    "policy_url": ("https://www.highlandil.gov/policy", "https://clerk.highlandil.gov/smp"),
    "seals_folder": ("/srv/file/seals", "/srv/env/seals"),
    "pg_tools_folder": ("/opt/pg/file/bin", "/opt/pg/env/bin"),
    "actions_by": ("agent", "workstation"),
}


@pytest.fixture
def settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    file = tmp_path / "hsm-console.toml"
    monkeypatch.setattr(config, "config_file", lambda: file)
    for name in VALUES:
        monkeypatch.delenv(env_name(name), raising=False)
    return file


def _read(settings: Settings, name: str) -> str:
    return str(getattr(settings, name)).replace("\\", "/")


def test_every_setting_is_read_from_its_environment_variable_before_the_file(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    names = [f.name for f in dataclasses.fields(Settings)]
    assert sorted(names) == sorted(VALUES), "a new setting: give it values here and in README"
    defaults = load_settings()
    settings_file.write_text(
        "".join(f"{name} = {json.dumps(file)}\n" for name, (file, _env) in VALUES.items()),
        encoding="utf-8",
    )
    from_file = load_settings()
    for name, (file, env) in VALUES.items():
        assert _read(from_file, name) == file
        assert _read(from_file, name) != _read(defaults, name)
        monkeypatch.setenv(env_name(name), env)
        assert _read(load_settings(), name) == env
        monkeypatch.setenv(env_name(name), "")  # empty is unset
        assert _read(load_settings(), name) == file
    monkeypatch.setenv(env_name("actions_by"), "workstation")  # a file needs no agent
    assert load_settings("sqlite:///given.sqlite3").database_url == "sqlite:///given.sqlite3"


def test_a_bad_value_names_the_variable_it_came_from(
    settings_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HSM_SEALS_FOLDER", "seals")
    with pytest.raises(ConfigurationError, match="HSM_SEALS_FOLDER: seals_folder must be"):
        load_settings()
    monkeypatch.delenv("HSM_SEALS_FOLDER")
    monkeypatch.setenv("HSM_POLICY_URL", "https://highlandil.gov.evil.example/policy")
    with pytest.raises(ConfigurationError, match="HSM_POLICY_URL: policy_url must be"):
        load_settings()
    monkeypatch.delenv("HSM_POLICY_URL")
    settings_file.write_text("pg_tools_folder = 3\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=f"{re.escape(str(settings_file))}: pg_tools"):
        load_settings()


def test_the_readme_lists_every_setting_with_its_variable() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Settings\n", 1)[1].split("\n## ", 1)[0]
    for field in dataclasses.fields(Settings):
        assert f"| `{field.name}` | `{env_name(field.name)}` |" in section


SECRETS = {
    "postgresql://hsm_owner:Pa55-w0rd!@db.highland.local/hsm": "Pa55-w0rd!",
    "Authorization: Bearer EAAJzqTOKENabc123": "EAAJzqTOKENabc123",
    "GET /v25.0/me?access_token=EAAB.xyz-789&fields=id": "EAAB.xyz-789",
    '{"refresh_token": "rt-5Ecret", "expires_in": 3600}': "rt-5Ecret",
    "client_secret=sandbox-client-secret": "sandbox-client-secret",
    "Api-Key: 9f8e7d6c5b4a": "9f8e7d6c5b4a",
    "PGPASSWORD=hunter2 pg_dump": "hunter2",
    "application password: abcd EFGH ijkl mnop": "EFGH ijkl",
}


def test_what_looks_like_a_secret_is_redacted_and_the_rest_kept() -> None:
    for line, secret in SECRETS.items():
        assert secret not in redact(line), line
        assert "[redacted]" in redact(line)
    plain = "sync of site 12: 40 new comments, token_lapsed=False, 3 tokens renewed"
    assert redact(plain) == plain
    assert redact("see https://www.highlandil.gov/a:b") == "see https://www.highlandil.gov/a:b"


@pytest.mark.expected_log("with a traceback")
def test_the_log_file_rotates_in_its_folder_and_holds_no_secret(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    handler = file_handler(folder, max_bytes=2_000)
    logger = logging.getLogger("hsm_console.test_settings")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        for n in range(200):
            logger.info("call %d failed: %s", n, list(SECRETS)[n % len(SECRETS)])
        try:
            raise RuntimeError("connect to postgresql://o:Pa55-w0rd!@db/hsm failed")
        except RuntimeError:
            logger.exception("with a traceback")
    finally:
        logger.removeHandler(handler)
        handler.close()
    files = sorted(p.name for p in folder.iterdir())
    assert files == [LOG_NAME, *(f"{LOG_NAME}.{n}" for n in range(1, BACKUPS + 1))]
    written = "".join(p.read_text(encoding="utf-8") for p in folder.iterdir())
    assert all(p.stat().st_size <= 2_000 for p in folder.iterdir())
    assert "call 199 failed" in written
    assert "Traceback" in written
    assert "[redacted]" in written
    for secret in SECRETS.values():
        assert secret not in written
