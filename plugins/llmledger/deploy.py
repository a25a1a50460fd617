"""Start-up of the docker-compose deployment: ``python -m llmledger.deploy init``.

The compose file's ``airflow-init`` service runs it after ``airflow db migrate`` and before any
long-running service starts. It

- checks that the secrets the deployment needs are set and are not the placeholders of
  ``.env.example`` (a deployment must not come up with a password published in the repository);
- writes the password of the Airflow admin (``AIRFLOW_ADMIN_USERNAME`` /
  ``AIRFLOW_ADMIN_PASSWORD``) into the password file of Airflow's ``SimpleAuthManager``
  (``AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE``), mode 0600, through JSON: the password
  never passes through a shell;
- creates the LLM Ledger home (landing/, raw/, quarantine/, config/ with empty valid files...)
  and a default ``config/freshness.yaml`` a team can edit.

Plain functions, tested without Docker and without Airflow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

from llmledger import freshness
from llmledger.paths import Home

# The secrets the compose deployment reads from .env: each must be set, long enough, and not a
# placeholder of .env.example.
REQUIRED_SECRETS = (
    "POSTGRES_PASSWORD",
    "AIRFLOW_ADMIN_PASSWORD",
    "AIRFLOW_JWT_SECRET",
    "AIRFLOW_API_SECRET_KEY",
    "AIRFLOW_FERNET_KEY",
)
PLACEHOLDER_MARK = "change-me"
MIN_SECRET_LENGTH = 12
PASSWORDS_FILE_SETTING = "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"


class DeployConfigError(ValueError):
    """A deployment setting is missing or unsafe; the message names the variable and the fix."""


def check_secrets(env: Mapping[str, str]) -> None:
    """Raise :class:`DeployConfigError` naming every secret that is missing, a placeholder of
    ``.env.example`` or shorter than :data:`MIN_SECRET_LENGTH` characters."""
    problems = []
    for name in REQUIRED_SECRETS:
        value = env.get(name, "")
        if not value:
            problems.append(f"{name} is not set")
        elif PLACEHOLDER_MARK in value:
            problems.append(f"{name} is still the placeholder of .env.example")
        elif len(value) < MIN_SECRET_LENGTH:
            problems.append(
                f"{name} has {len(value)} characters; expected at least {MIN_SECRET_LENGTH}"
            )
    if problems:
        raise DeployConfigError(
            "unsafe deployment settings in .env: "
            + "; ".join(problems)
            + " (generate values as .env.example explains)"
        )


def write_admin_password(passwords_file: Path, username: str, password: str) -> None:
    """Set ``username``'s password in SimpleAuthManager's JSON password file, keeping any other
    user's entry; the file is replaced atomically and readable by its owner only."""
    if not username or ":" in username or "," in username:
        # Airflow parses simple_auth_manager_users as "user:role,user:role".
        raise DeployConfigError(
            f"AIRFLOW_ADMIN_USERNAME {username!r}: expected a non-empty name without ':' or ','"
        )
    passwords: dict[str, str] = {}
    if passwords_file.exists() and passwords_file.read_text().strip():
        try:
            passwords = json.loads(passwords_file.read_text())
        except ValueError as err:
            raise DeployConfigError(f"{passwords_file}: not valid JSON ({err})") from err
        if not isinstance(passwords, dict):
            raise DeployConfigError(f"{passwords_file}: expected a JSON object user -> password")
    passwords[username] = password
    passwords_file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=passwords_file.parent, prefix=".passwords-")
    try:
        with os.fdopen(fd, "w") as out:
            json.dump(passwords, out)
            out.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, passwords_file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def init(env: Mapping[str, str]) -> Home:
    """Everything :mod:`llmledger.deploy` does at start-up (see the module docstring)."""
    check_secrets(env)
    passwords_file = env.get(PASSWORDS_FILE_SETTING)
    if not passwords_file:
        raise DeployConfigError(f"{PASSWORDS_FILE_SETTING} is not set")
    write_admin_password(
        Path(passwords_file), env.get("AIRFLOW_ADMIN_USERNAME", ""), env["AIRFLOW_ADMIN_PASSWORD"]
    )
    home = Home.resolve(env.get("LLMLEDGER_HOME")).ensure()
    # An editable copy of the freshness thresholds (the defaults apply without it).
    freshness.write_default(home)
    return home


def main(argv: list[str] | None = None) -> int:
    """``python -m llmledger.deploy init``: exit 2 with a message on unsafe settings."""
    parser = argparse.ArgumentParser(prog="python -m llmledger.deploy")
    parser.add_argument("command", choices=["init"])
    parser.parse_args(argv)
    try:
        home = init(os.environ)
    except DeployConfigError as err:
        print(f"llmledger deploy: {err}", file=sys.stderr)
        return 2
    print(f"admin password set for {os.environ['AIRFLOW_ADMIN_USERNAME']}; home ready at {home}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
