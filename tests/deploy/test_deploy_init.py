"""`python -m llmledger.deploy init`: the compose init service's refusal of unsafe secrets and
its writing of the admin password, without Docker or Airflow."""

from __future__ import annotations

import json
import stat

import pytest

from llmledger import deploy

GOOD = {
    "POSTGRES_PASSWORD": "0123456789abcdef",
    "AIRFLOW_ADMIN_USERNAME": "finance-admin",
    "AIRFLOW_ADMIN_PASSWORD": "correct horse battery",
    "AIRFLOW_JWT_SECRET": "a" * 32,
    "AIRFLOW_API_SECRET_KEY": "b" * 32,
    "AIRFLOW_FERNET_KEY": "c" * 44,
}


def test_missing_placeholder_and_short_secrets_are_each_named():
    env = {
        **GOOD,
        "AIRFLOW_JWT_SECRET": "change-me-jwt-secret",
        "AIRFLOW_API_SECRET_KEY": "short",
    }
    del env["POSTGRES_PASSWORD"]
    with pytest.raises(deploy.DeployConfigError) as err:
        deploy.check_secrets(env)
    message = str(err.value)
    assert "POSTGRES_PASSWORD is not set" in message
    assert "AIRFLOW_JWT_SECRET is still the placeholder of .env.example" in message
    assert "AIRFLOW_API_SECRET_KEY has 5 characters; expected at least 12" in message
    assert "AIRFLOW_ADMIN_PASSWORD" not in message
    deploy.check_secrets(GOOD)  # no error


def test_init_writes_the_admin_password_owner_only_and_keeps_other_users(tmp_path):
    passwords = tmp_path / "auth" / "passwords.json"
    passwords.parent.mkdir()
    passwords.write_text(json.dumps({"viewer": "kept-as-is", "finance-admin": "old"}))
    env = {
        **GOOD,
        deploy.PASSWORDS_FILE_SETTING: str(passwords),
        "LLMLEDGER_HOME": str(tmp_path / "home"),
    }
    home = deploy.init(env)
    assert json.loads(passwords.read_text()) == {
        "viewer": "kept-as-is",
        "finance-admin": "correct horse battery",
    }
    assert stat.S_IMODE(passwords.stat().st_mode) == 0o600
    assert (home.root / "landing" / "billing").is_dir()
    assert (home.root / "config" / "policies.yaml").is_file()
    assert (home.root / "config" / "freshness.yaml").is_file()
    assert [p.name for p in passwords.parent.iterdir()] == ["passwords.json"]  # no temp left


def test_a_password_with_quotes_and_shell_characters_is_stored_verbatim(tmp_path):
    passwords = tmp_path / "passwords.json"
    password = "\"'; rm -rf / $(id) `x` \\n"
    deploy.write_admin_password(passwords, "admin", password)
    assert json.loads(passwords.read_text()) == {"admin": password}


@pytest.mark.parametrize("username", ["", "a:b", "a,b"])
def test_usernames_airflow_cannot_parse_are_refused(tmp_path, username):
    with pytest.raises(deploy.DeployConfigError, match="AIRFLOW_ADMIN_USERNAME"):
        deploy.write_admin_password(tmp_path / "p.json", username, "x" * 20)


def test_main_exits_2_with_a_message_and_writes_nothing(tmp_path, monkeypatch, capsys):
    passwords = tmp_path / "passwords.json"
    for key in GOOD:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv(deploy.PASSWORDS_FILE_SETTING, str(passwords))
    monkeypatch.setenv("AIRFLOW_ADMIN_PASSWORD", "change-me-admin-password")
    assert deploy.main(["init"]) == 2
    assert "AIRFLOW_ADMIN_PASSWORD is still the placeholder" in capsys.readouterr().err
    assert not passwords.exists()
