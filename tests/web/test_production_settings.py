"""Production settings: no start without a real secret key, and `manage.py check --deploy` is clean
with the production environment the README documents (run in a child process, as an operator
would, without the development mode the test suite runs in)."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The README's production environment (database and Redis aside, which the checks do not read).
PRODUCTION = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "parley.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://parley.example.com",
    "HTTPS": "1",
    "TRUST_X_FORWARDED_PROTO": "1",
}


def manage(*args: str, **overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"PARLEY_DEV", "DEBUG", "SECRET_KEY"}}
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_environment():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_plain_http():
    """Without HTTPS=1 the cookies are not Secure and there is no HSTS, and the check says so."""
    env = {k: v for k, v in PRODUCTION.items() if k != "HTTPS"}
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in result.stderr


@pytest.mark.parametrize(
    "secret",
    [None, "parley-dev-only-insecure-secret-key-change-me-in-production"],
    ids=["missing", "development-key"],
)
def test_refuses_to_start_without_a_real_key(secret):
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    if secret is not None:
        env["SECRET_KEY"] = secret
    result = manage("check", **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured: Set SECRET_KEY" in result.stderr


def test_development_mode_starts_without_a_key():
    result = manage("check", PARLEY_DEV="1")
    assert result.returncode == 0, result.stderr
