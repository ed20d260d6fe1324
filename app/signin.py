"""Is sign-in configured, and may `kb serve` listen where it was asked to? (No streamlit import.)

Sign-in is Streamlit's OpenID Connect support: an `[auth]` table in `.streamlit/secrets.toml` with
`redirect_uri`, `cookie_secret`, `client_id`, `client_secret` and `server_metadata_url` (README, "Sign-in").
`kb serve` reads the same file Streamlit will read, so that an app reachable from other machines never
starts without sign-in unless `--no-auth` says so on purpose.
"""

from __future__ import annotations

from pathlib import Path

import tomllib

from app.config import is_loopback
from app.errors import ConfigError

NO_AUTH_ENV = "KB_SERVE_NO_AUTH"  # set by `kb serve --no-auth` for the pages' warning banner
REQUIRED = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
HOW = (
    "put an [auth] table with redirect_uri, cookie_secret, client_id, client_secret and server_metadata_url "
    "in {path} (README, section Sign-in, has a complete example)"
)


def default_secrets(project_root: Path) -> Path:
    """Where `kb serve` (which runs Streamlit from the project root) finds Streamlit's secrets."""
    return project_root / ".streamlit" / "secrets.toml"


def auth_section(path: Path) -> dict | None:
    """The [auth] table of a secrets file; None when the file or the table is missing.

    Raises ConfigError for a file that is not TOML, or an [auth] table without the settings Streamlit needs
    (at top level, or in one provider's sub-table as `[auth.keycloak]`)."""
    try:
        secrets = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path} cannot be read as TOML: {exc}") from None
    auth = secrets.get("auth")
    if not isinstance(auth, dict):
        return None
    providers = [v for v in auth.values() if isinstance(v, dict)]
    present = set(auth) | (set(providers[0]) if len(providers) == 1 else set())
    missing = [key for key in REQUIRED if key not in present]
    if missing:
        raise ConfigError(f"The [auth] table in {path} lacks {', '.join(missing)}: " + HOW.format(path=path) + ".")
    return auth


def check_exposure(address: str, secrets: Path, no_auth: bool) -> bool:
    """Whether sign-in is on; raises ConfigError when `address` reaches beyond this machine without it
    and without `no_auth`."""
    signed_in = auth_section(secrets) is not None
    if not signed_in and not no_auth and not is_loopback(address):
        raise ConfigError(
            f"kb serve --address {address} would let anyone who can reach this machine read, upload and delete "
            f"everything: {HOW.format(path=secrets)}, or add --no-auth to run without sign-in knowingly."
        )
    return signed_in
