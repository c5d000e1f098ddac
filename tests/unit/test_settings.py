"""Settings: validation messages name the variable, secrets never leak into output."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from heliosgrid.settings import Settings, SettingsError, load_settings, redact_url


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No HELIOS_* variables or .env file from the developer's shell leak into these tests."""
    import os

    for name in list(os.environ):
        if name.startswith("HELIOS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_are_valid() -> None:
    settings = load_settings()
    assert settings.retention_raw_days == 30
    assert settings.compress_raw_after_days < settings.retention_raw_days
    assert settings.database_url is None


def test_env_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIOS_RETENTION_RAW_DAYS", "90")
    monkeypatch.setenv("HELIOS_DB_BACKEND", "postgres")
    settings = load_settings()
    assert settings.retention_raw_days == 90
    assert settings.db_backend == "postgres"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"retention_raw_days": 0}, "HELIOS_RETENTION_RAW_DAYS: Input should be greater than or equal to 1"),
        ({"db_backend": "mysql"}, "HELIOS_DB_BACKEND: Input should be 'auto', 'timescaledb' or 'postgres'"),
        ({"kafka_bootstrap_servers": "localhost"}, "HELIOS_KAFKA_BOOTSTRAP_SERVERS: expected host:port"),
        ({"database_url": "mysql://u:p@h/db"}, "HELIOS_DATABASE_URL: must be a postgresql:// URL"),
        ({"topic_readings": "bad topic!"}, "HELIOS_TOPIC_READINGS: String should match pattern"),
        (
            {"retention_raw_days": 5, "compress_raw_after_days": 7},
            "compress_raw_after_days (7) must be smaller than retention_raw_days (5)",
        ),
    ],
)
def test_invalid_values_give_a_message_naming_the_variable(overrides: dict[str, object], expected: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(**overrides)
    message = str(info.value)
    assert message.startswith("invalid configuration:")
    assert expected in message
    assert "Traceback" not in message


def test_invalid_env_variable_is_reported_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIOS_BATCH_MAX_MESSAGES", "lots")
    with pytest.raises(SettingsError, match="HELIOS_BATCH_MAX_MESSAGES: Input should be a valid integer"):
        load_settings()


def test_bad_url_error_does_not_echo_the_password() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(database_url="mysql://admin:S3cr3tPW@db/helios")
    assert "S3cr3tPW" not in str(info.value)


def test_password_never_in_public_dict_or_repr() -> None:
    settings = load_settings(database_url="postgresql://helios:Hunter2Secret@db.internal:5432/helios")
    public = settings.public_dict()
    assert public["database_url"] == "postgresql://helios:***@db.internal:5432/helios"
    for text in (str(public), repr(settings), str(settings)):
        assert "Hunter2Secret" not in text
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value().endswith("Hunter2Secret@db.internal:5432/helios")


def test_keyword_form_password_is_redacted() -> None:
    settings = load_settings(database_url="host=db user=helios password=Hunter2Secret dbname=helios")
    assert "Hunter2Secret" not in str(settings.public_dict())
    assert "password=***" in settings.public_dict()["database_url"]


def test_public_dict_is_plain_values() -> None:
    public = load_settings(data_dir=Path("/var/lib/helios")).public_dict()
    assert public["data_dir"] == "/var/lib/helios"
    assert set(public) == set(Settings.model_fields)


_PW_CHARS = string.ascii_uppercase + string.digits + "!#$%^&*()_+-=[]{};:,.<>?/~|"
_LOWER = st.text(string.ascii_lowercase, min_size=1, max_size=12)


@given(
    user=_LOWER,
    password=st.text(_PW_CHARS, min_size=4, max_size=40),
    host=_LOWER,
    dbname=_LOWER,
    scheme=st.sampled_from(["postgresql", "postgres", "postgresql+psycopg"]),
)
def test_redact_url_hides_any_url_password(user: str, password: str, host: str, dbname: str, scheme: str) -> None:
    url = f"{scheme}://{user}:{password}@{host}/{dbname}"
    redacted = redact_url(url)
    assert password not in redacted
    assert redacted == f"{scheme}://{user}:***@{host}/{dbname}"
    # inside a longer log line too
    assert password not in redact_url(f"cannot connect to {url}: connection refused")


@given(password=st.text(_PW_CHARS.replace("'", ""), min_size=4, max_size=40), quoted=st.booleans())
def test_redact_url_hides_keyword_passwords(password: str, quoted: bool) -> None:
    value = f"'{password} x'" if quoted else password
    redacted = redact_url(f"host=db user=app password={value} dbname=helios")
    assert password not in redacted
    assert redacted.endswith(" dbname=helios")


@given(text=st.text(string.ascii_letters + string.digits + " /.:_-", max_size=80))
def test_redact_url_leaves_text_without_secrets_alone(text: str) -> None:
    # no '@' and no '=' in the alphabet: nothing here can be a credential
    assert redact_url(text) == text
