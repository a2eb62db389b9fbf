"""The `myreview` command, settings that refuse placeholders, and the health check."""

import re

import pytest
from pydantic import ValidationError

from bot import cli
from bot.settings import Settings
from tests.conftest import make_settings


def test_review_add_prints_a_one_time_code(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MYREVIEW_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    cli.main(
        [
            "review",
            "add",
            "--first-name",
            "Amira",
            "--age",
            "14",
            "--uasc",
            "--iro-name",
            "Pat Lee",
            "--iro-email",
            "pat@council.example",
            "--review-at",
            "2030-12-10T10:00",
            "--language",
            "ar",
        ]
    )
    out = capsys.readouterr().out
    assert re.search(r"Invite code: [2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}\n", out)
    assert "11 December 2030" in out  # valid until the end of the day after the review


def add_args(**values: str) -> list[str]:
    base = {
        "first-name": "A",
        "age": "9",
        "iro-name": "P",
        "iro-email": "p@x.example",
        "review-at": "2030-12-10T10:00",
    }
    base.update(values)
    return ["review", "add", *[x for k, v in base.items() for x in (f"--{k}", v)]]


def test_review_add_refuses_a_bad_email_clearly(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MYREVIEW_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/cli.db")
    with pytest.raises(SystemExit, match="iro_email"):
        cli.main(add_args(**{"iro-email": "not-an-email"}))
    with pytest.raises(SystemExit, match="--review-at"):
        cli.main(add_args(**{"review-at": "next tuesday"}))


def test_production_refuses_placeholder_secrets(tmp_path):
    with pytest.raises(ValidationError, match="MYREVIEW_SECRET_KEY is a placeholder"):
        make_settings(tmp_path, environment="production", secret_key="dev-only-secret-change-me")
    with pytest.raises(ValidationError, match="MICROSOFT_APP_ID"):
        make_settings(tmp_path, environment="production", secret_key="x" * 40)
    ok = make_settings(
        tmp_path,
        environment="production",
        secret_key="x" * 40,
        microsoft_app_id="app",
        microsoft_app_password="p" * 20,
    )
    assert ok.environment == "production"


def test_settings_read_the_env_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("MYREVIEW_PORT=4000\nMYREVIEW_DUTY_EMAIL=duty@x.example\n")
    s = Settings()
    assert s.port == 4000 and s.duty_email == "duty@x.example"


async def test_healthz_checks_the_database(client, parts, tmp_path):
    resp = await client.get("/healthz")
    assert resp.status == 200 and await resp.json() == {"status": "ok"}
    await parts.db.engine.dispose()
    parts.db.engine.sync_engine.pool.dispose()
    # A database that cannot be opened reports 503, not 500.
    from storage.db import Database

    parts.db.__dict__["engine"] = Database("sqlite+aiosqlite:////nonexistent/dir/x.db").engine
    resp = await client.get("/healthz")
    assert resp.status == 503
