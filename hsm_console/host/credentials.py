"""Platform tokens, kept only in the operating system's credential store (keyring).

A token is never written to the database, a config file, a log, an error message or the
terminal. Sites served by the demo sandbox carry its public demo token on the site row
(`settings["demo_token"]`), since it is no secret and no keyring holds it.
"""

from __future__ import annotations

import keyring
from keyring.errors import KeyringError, NoKeyringError, PasswordDeleteError

from hsm_console.db.models import Site
from hsm_console.errors import ConfigurationError

KEYRING_SERVICE = "HSM Console"
DEMO_TOKEN = "demo_token"  # noqa: S105 (the settings key, not a token)

NO_BACKEND_HELP = (
    "No usable keyring (credential store) was found on this computer, so platform tokens "
    "cannot be kept safely. On Windows the Credential Manager is used automatically; on macOS "
    "the Keychain. On Linux, sign in to a desktop session with GNOME Keyring or KWallet "
    "running. On a server without either, an administrator can install the encrypted file "
    "store: pip install keyrings.alt, and set PYTHON_KEYRING_BACKEND="
    "keyrings.alt.file.EncryptedKeyring."
)


def credential_key(site: Site) -> str:
    """Stable across databases: a demo database and the City's share no site ids."""
    return f"{site.platform}:{site.base_url.rstrip('/')}:{site.external_id}"


class CredentialStore:
    def get(self, site: Site) -> str:
        if site.is_sandbox:
            demo_token = site.settings.get(DEMO_TOKEN)
            if not isinstance(demo_token, str) or not demo_token:
                raise ConfigurationError(
                    f"The demo site {site.name!r} has no demo token. Run: hsm-console demo"
                )
            return demo_token
        try:
            token = keyring.get_password(KEYRING_SERVICE, credential_key(site))
        except NoKeyringError:
            raise ConfigurationError(NO_BACKEND_HELP) from None
        except KeyringError as exc:
            raise ConfigurationError(f"The keyring could not be read: {exc}.") from None
        if not token:
            raise ConfigurationError(
                f"No token is stored for the site {site.name!r} on this computer. Ask an "
                f"administrator to run: hsm-console credentials set {site.id}"
            )
        return token

    def set(self, site: Site, token: str) -> None:
        token = token.strip()
        if not token:
            raise ConfigurationError("An empty token was not stored.")
        try:
            keyring.set_password(KEYRING_SERVICE, credential_key(site), token)
        except NoKeyringError:
            raise ConfigurationError(NO_BACKEND_HELP) from None
        except KeyringError as exc:
            raise ConfigurationError(f"The keyring refused the token: {exc}.") from None

    def delete(self, site: Site) -> bool:
        try:
            keyring.delete_password(KEYRING_SERVICE, credential_key(site))
        except PasswordDeleteError:
            return False
        except NoKeyringError:
            raise ConfigurationError(NO_BACKEND_HELP) from None
        return True
