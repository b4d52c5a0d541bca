"""Platform tokens, kept only in the operating system's credential store (keyring).

A token is never written to the database, a config file, a log, an error message or the
terminal. A site's keyring entry is a small JSON object (`TokenSet`: access token, refresh
token, their expiries, token type) so that a token can renew itself; a plain token stored before
then still reads, as an access token without refresh or expiry. Sites served by the demo
sandbox carry its public demo token on the site row (`settings["demo_token"]`), since it is no
secret and no keyring holds it. The City's app credentials per platform (`AppCredentials`)
are kept here too.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from hsm_console.db.models import Site
from hsm_console.errors import ConfigurationError
from hsm_console.rules.domain import Platform

log = logging.getLogger(__name__)

KEYRING_SERVICE = "HSM Console"
DEMO_TOKEN = "demo_token"  # noqa: S105 (the settings key, not a token)

NO_BACKEND_HELP = (
    "No usable keyring (credential store) was found on this computer, so platform tokens "
    "cannot be kept safely. On Windows the Credential Manager is used automatically; on macOS "
    "the Keychain. On Linux, sign in to a desktop session with GNOME Keyring or KWallet "
    "running. On a server without either, an administrator can install the encrypted file "
    "store: pip install keyrings.alt pycryptodomex, and set PYTHON_KEYRING_BACKEND="
    "keyrings.alt.file.EncryptedKeyring (it asks for its own password)."
)


@dataclass(frozen=True)
class TokenSet:
    """One site's credential as the platform granted it."""

    access_token: str
    refresh_token: str | None = None
    expires_at: datetime | None = None  # aware; None: until revoked (or unknown)
    token_type: str = "bearer"  # noqa: S105 (a kind of token, not one)
    # When the refresh token itself lapses, where the platform says (TikTok, LinkedIn, a
    # Google app in testing); None: not said. After it only an administrator can reconnect.
    refresh_expires_at: datetime | None = None

    def __repr__(self) -> str:  # keep the tokens out of tracebacks and logs
        return (
            f"TokenSet(expires_at={self.expires_at!r}, refreshable={self.refreshable}, "
            f"refresh_expires_at={self.refresh_expires_at!r})"
        )

    @property
    def refreshable(self) -> bool:
        return bool(self.refresh_token)

    def to_json(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": _iso(self.expires_at),
                "token_type": self.token_type,
                "refresh_expires_at": _iso(self.refresh_expires_at),
            }
        )

    @classmethod
    def from_stored(cls, text: str) -> TokenSet:
        """Read a keyring entry: the JSON object, or a plain token stored before there was one."""
        if not text.lstrip().startswith("{"):
            return cls(access_token=text)
        try:
            data = json.loads(text)
            made = cls(
                access_token=str(data["access_token"]),
                refresh_token=str(data["refresh_token"]) if data.get("refresh_token") else None,
                expires_at=_moment(data.get("expires_at")),
                token_type=str(data.get("token_type") or "bearer"),
                # Absent from entries stored before it was kept: not known.
                refresh_expires_at=_moment(data.get("refresh_expires_at")),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            # The entry's text is never quoted: it holds the tokens.
            raise ConfigurationError(
                "The credential stored for this site cannot be read. Ask an administrator to "
                "connect the site again."
            ) from None
        naive = [m for m in (made.expires_at, made.refresh_expires_at) if m and m.tzinfo is None]
        if not made.access_token or naive:
            raise ConfigurationError(
                "The credential stored for this site is incomplete. Ask an administrator to "
                "connect the site again."
            )
        return made


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _moment(stored: object) -> datetime | None:
    """An ISO 8601 time from the entry (ValueError/TypeError for anything else but null)."""
    if not stored:
        return None
    if not isinstance(stored, str):
        raise TypeError("not a time")
    return datetime.fromisoformat(stored)


@dataclass(frozen=True)
class AppCredentials:
    """The City's own app on one platform (its OAuth client), entered once by an administrator."""

    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return f"AppCredentials(client_id={self.client_id!r})"


def database_key(login: str, host: str, port: int) -> str:
    """A database login's password, per server: `db password` keeps it, `Database` reads it."""
    return f"database:{login}@{host}:{port}"


def database_password(login: str, host: str, port: int) -> str | None:
    """The password kept in this computer's keyring for a database login, or None: none is
    kept, or there is no keyring (signing in with the Windows account needs none)."""
    import keyring  # its backends load on first use: not with every start of the window
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(KEYRING_SERVICE, database_key(login, host, port))
    except KeyringError as exc:  # NoKeyringError included: GSSAPI, SSPI and peer need none
        log.info("no database password read from the keyring: %s", type(exc).__name__)
        return None


def app_key(platform: str) -> str:
    return f"app:{platform}"


def credential_key(site: Site) -> str:
    """Stable across databases: a demo database and the City's share no site ids."""
    return f"{site.platform}:{site.base_url.rstrip('/')}:{site.external_id}"


class CredentialStore:
    # Where a stored credential goes, in the words of `admin connect`'s progress.
    kept_in = "this computer's keyring"

    def get(self, site: Site) -> str:
        """The site's access token (the demo token for a sandbox site)."""
        return self.get_tokens(site).access_token

    def get_tokens(self, site: Site) -> TokenSet:
        if site.is_sandbox:
            demo_token = site.settings.get(DEMO_TOKEN)
            if not isinstance(demo_token, str) or not demo_token:
                raise ConfigurationError(
                    f"The demo site {site.name!r} has no demo token. Run: hsm-console demo"
                )
            return TokenSet(access_token=demo_token)
        stored = self._read(credential_key(site))
        if not stored:
            raise ConfigurationError(
                f"The site {site.name!r} is not connected on this computer. Ask an "
                f"administrator to run: hsm-console admin connect {site.id}"
            )
        return TokenSet.from_stored(stored)

    def find_tokens(self, site: Site) -> TokenSet | None:
        """The site's tokens, or None when nothing is stored for it on this computer."""
        if not site.is_sandbox and not self._read(credential_key(site)):
            return None
        return self.get_tokens(site)

    def set(self, site: Site, token: str) -> None:
        """Store a token typed by an administrator (a plain access token)."""
        token = token.strip()
        if not token:
            raise ConfigurationError("An empty token was not stored.")
        self.set_tokens(site, TokenSet(access_token=token))

    def set_tokens(self, site: Site, tokens: TokenSet) -> None:
        if not tokens.access_token:
            raise ConfigurationError("An empty token was not stored.")
        self._write(credential_key(site), tokens.to_json())

    def get_app(self, platform: Platform) -> AppCredentials:
        stored = self._read(app_key(platform.value))
        if not stored:
            raise ConfigurationError(
                f"The City's {platform.label} app is not set up on this computer. Ask an "
                "administrator to run: hsm-console admin app "
                f"{platform.value} --client-id ID"
            )
        try:
            data = json.loads(stored)
            return AppCredentials(str(data["client_id"]), str(data["client_secret"]))
        except (ValueError, KeyError, TypeError):
            raise ConfigurationError(
                f"The City's {platform.label} app credentials on this computer cannot be "
                "read. Ask an administrator to run: hsm-console admin app "
                f"{platform.value} --client-id ID"
            ) from None

    def set_app(self, platform: Platform, app: AppCredentials) -> None:
        if not app.client_id.strip() or not app.client_secret.strip():
            raise ConfigurationError("Both the client id and the client secret are needed.")
        text = json.dumps(
            {"client_id": app.client_id.strip(), "client_secret": app.client_secret.strip()}
        )
        self._write(app_key(platform.value), text)

    def set_database_password(self, login: str, host: str, port: int, password: str) -> None:
        if not password:
            raise ConfigurationError("An empty password was not stored.")
        self._write(database_key(login, host, port), password)

    def check_usable(self) -> None:
        """Raise the plain-words `ConfigurationError` now if no keyring can be used (before
        an administrator signs in to a platform for nothing)."""
        self._read(app_key("check"))

    def _read(self, key: str) -> str | None:
        import keyring
        from keyring.errors import KeyringError, NoKeyringError

        try:
            return keyring.get_password(KEYRING_SERVICE, key)
        except NoKeyringError:
            raise ConfigurationError(NO_BACKEND_HELP) from None
        except KeyringError as exc:
            raise ConfigurationError(f"The keyring could not be read: {exc}.") from None

    def _write(self, key: str, text: str) -> None:
        import keyring
        from keyring.errors import KeyringError, NoKeyringError

        try:
            keyring.set_password(KEYRING_SERVICE, key, text)
        except NoKeyringError:
            raise ConfigurationError(NO_BACKEND_HELP) from None
        except KeyringError as exc:
            raise ConfigurationError(f"The keyring refused the token: {exc}.") from None

    def delete(self, site: Site) -> bool:
        import keyring
        from keyring.errors import NoKeyringError, PasswordDeleteError

        try:
            keyring.delete_password(KEYRING_SERVICE, credential_key(site))
        except PasswordDeleteError:
            return False
        except NoKeyringError:
            raise ConfigurationError(NO_BACKEND_HELP) from None
        return True
