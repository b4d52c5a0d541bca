"""Where the console keeps its data, and which database it opens.

Every setting is read, first found first: (for the database) `--database URL`, then its
environment variable `HSM_<NAME>` (`env_name`), then `<name>` in the settings file, then its
default. README "Settings" lists them all.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import PlatformDirs

from hsm_console.errors import ConfigurationError
from hsm_console.rules.site_checks import DEFAULT_POLICY_URL, is_city_link

APP_DIRS = PlatformDirs(appname="HSM Console", appauthor="City of Highland")
ENV_DATABASE_URL = "HSM_DATABASE_URL"  # env_name("database_url")
# Who carries out the platform step of every action: "workstation" (each one, all five steps:
# the single-workstation mode) or "agent" (the City-wide mode: services/agent.py).
ENV_ACTIONS_BY = "HSM_ACTIONS_BY"  # env_name("actions_by")
ACTIONS_BY = ("workstation", "agent")


def env_name(setting: str) -> str:
    """The environment variable of a setting: `seals_folder` -> `HSM_SEALS_FOLDER`."""
    return f"HSM_{setting.upper()}"


def default_seals_folder() -> Path:
    return Path(APP_DIRS.user_data_dir) / "seals"


@dataclass(frozen=True)
class Settings:
    database_url: str
    # The City's social media policy page, which each site's profile must link to (Policy,
    # Section 2 names no address): `policy_url` in the settings file.
    policy_url: str = DEFAULT_POLICY_URL
    # Where the log's seals are written (services/seals.py): `seals_folder` in the settings
    # file, best a folder the records officer keeps and the database's administrators cannot.
    seals_folder: Path = field(default_factory=default_seals_folder)
    # pg_dump and pg_restore for `db backup` / `db restore` (services/backup.py): their folder
    # as `pg_tools_folder` in the settings file; None: found on PATH.
    pg_tools_folder: Path | None = None
    # `actions_by` in the settings file or HSM_ACTIONS_BY: "agent" leaves the platform to
    # `hsm-console agent`; only with PostgreSQL, which every workstation and the agent share.
    actions_by: str = "workstation"

    @property
    def by_agent(self) -> bool:
        return self.actions_by == "agent"


def config_file() -> Path:
    return Path(APP_DIRS.user_config_dir) / "hsm-console.toml"


def default_database_url() -> str:
    return f"sqlite:///{Path(APP_DIRS.user_data_dir) / 'hsm-console.sqlite3'}"


def load_settings(database: str | None = None) -> Settings:
    file_values: dict[str, object] = {}
    path = config_file()
    if path.exists():
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"The settings file {path} cannot be read: {exc}.") from None

    def given(name: str) -> tuple[object, str]:
        """The value of a setting and where it came from, for the error that names it."""
        if value := os.environ.get(env_name(name)):  # set and not empty
            return value, env_name(name)
        return file_values.get(name), str(path)

    url, where = (database, "--database") if database else given("database_url")
    if url is not None and not isinstance(url, str):
        raise ConfigurationError(f"{where}: database_url must be text.")
    policy_url, where = given("policy_url")
    policy_url = DEFAULT_POLICY_URL if policy_url is None else policy_url
    if not isinstance(policy_url, str) or not is_city_link(policy_url):
        raise ConfigurationError(
            f"{where}: policy_url must be the address of the policy's page on highlandil.gov, "
            f"like {DEFAULT_POLICY_URL!r}."
        )
    seals, where = given("seals_folder")
    if seals is not None and (
        not isinstance(seals, str) or not Path(seals).expanduser().is_absolute()
    ):
        raise ConfigurationError(f"{where}: seals_folder must be a folder's full path, as text.")
    tools, where = given("pg_tools_folder")
    if tools is not None and (
        not isinstance(tools, str) or not Path(tools).expanduser().is_absolute()
    ):
        raise ConfigurationError(f"{where}: pg_tools_folder must be a folder's full path, as text.")
    actions_by, where = given("actions_by")
    actions_by = "workstation" if actions_by is None else actions_by
    if actions_by not in ACTIONS_BY:
        raise ConfigurationError(f"{where}: actions_by must be one of: {', '.join(ACTIONS_BY)}.")
    url = url or default_database_url()
    if actions_by == "agent" and not url.startswith("postgresql"):
        raise ConfigurationError(
            'actions_by = "agent" is the City-wide mode: it needs the shared PostgreSQL '
            "database (database_url or HSM_DATABASE_URL), which the agent reads too."
        )
    return Settings(
        database_url=url,
        policy_url=policy_url,
        seals_folder=Path(seals).expanduser() if seals else default_seals_folder(),
        pg_tools_folder=Path(tools).expanduser() if tools else None,
        actions_by=str(actions_by),
    )
