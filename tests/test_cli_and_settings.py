"""The `myreview` command, settings that refuse placeholders, and the health check."""

import base64
import re
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot import cli
from bot.settings import Settings, settings_error
from storage.crypto import new_key_entry
from tests.conftest import make_settings
from tests.consult import wait_for_eml


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
            "--place",
            "Oak House family hub",
            "--easy-read",
        ]
    )
    out = capsys.readouterr().out
    assert re.search(r"Invite code: ([2-9A-HJKMNP-TV-Z]{3}-){2}[2-9A-HJKMNP-TV-Z]{3}\n", out)
    assert "11 December 2030" in out  # valid until the end of the day after the review
    code = re.search(r"Invite code: (\S+)", out).group(1)
    # The link opens the chat in Arabic, the review's language, with the code kept off the server.
    assert f"Link for the young person: http://localhost:3978/chat?lang=ar#{code}\n" in out
    assert "review is at: Oak House family hub" in out
    assert "easy path" in out


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
    with pytest.raises(SystemExit, match="place"):
        cli.main(add_args(place="x" * 121))


STRONG_KEY = "Qm7vX2pL9tR4wZ8cN1bF6hJ3kD5sG0aYeUiOqWxE"  # 40 random-looking characters
DATA_KEYS = new_key_entry("k1")
APP = {
    "microsoft_app_id": "app",
    "microsoft_app_password": "Xq8~Kp2.Lm9_Zr4-Vt7wNb3",
    "data_keys": DATA_KEYS,
}


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("dev-only-secret-change-me", "is a placeholder"),
        ("dev-only-secret-change-me ", "has spaces at the start or end"),
        ("changeme", "is a placeholder"),
        ("CHANGE-ME", "is a placeholder"),
        ("x", "is a placeholder"),
        ("password", "is a placeholder"),
        ("changethis-" + STRONG_KEY, "is a placeholder"),
        ("x" * 40, "is a placeholder"),
        ("Qm7vX2pL9tR4wZ8c", "is shorter than 32 bytes"),
        ("abcdabcdabcdabcdabcdabcdabcdabcdabcd", "does not look random"),
        ("correct horse battery staple horse", "does not look random"),
    ],
)
def test_production_refuses_weak_keys_saying_why_and_how(tmp_path, key, why):
    with pytest.raises(ValidationError, match=f"MYREVIEW_SECRET_KEY {why}") as err:
        make_settings(tmp_path, environment="production", secret_key=key, **APP)
    assert "secrets.token_urlsafe" in str(err.value)


ZEROS = base64.urlsafe_b64encode(bytes(32)).decode().rstrip("=")
CHANGEME = base64.b64encode(b"changeme" * 5).decode()


@pytest.mark.parametrize(
    ("key", "why"),
    [
        # Weak secrets that were accepted in production (issue 15).
        ("qwertyuiopasdfghjklzxcvbnm1234567890", "follows the keyboard or the alphabet"),
        ("QWERTYUIOP{}asdfghjkl:zxcvbnm<>?1234567890", "follows the keyboard or the alphabet"),
        ("abcdefghijklmnopqrstuvwxyz0123456789ABCDEF", "follows the keyboard or the alphabet"),
        ("zyxwvutsrqponmlkjihgfedcba9876543210", "follows the keyboard or the alphabet"),
        (CHANGEME, "is a placeholder"),
        (base64.b64encode(b"dev-only-secret-change-me-please!!").decode(), "is a placeholder"),
        (ZEROS, "is a placeholder"),
        (base64.b64encode(bytes([7]) * 32).decode(), r"does not look random \(decoded, every"),
        (bytes(range(32)).hex(), "does not look random .* count up or down"),
        ("Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3Tr0ub4dor&3", "does not look random"),
        ("1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p", "follows the keyboard or the alphabet"),
    ],
)
def test_production_refuses_keys_that_only_look_random(tmp_path, key, why):
    with pytest.raises(ValidationError, match=f"MYREVIEW_SECRET_KEY {why}") as err:
        make_settings(tmp_path, environment="production", secret_key=key, **APP)
    # The same clear message: the setting, why, and how to make a good one; never the value.
    message = settings_error(err.value)
    assert "secrets.token_urlsafe" in message and key not in message


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ("k1:" + ZEROS, r"entry 1 \(id k1\) is not random: every byte is the same"),
        ("k1:" + base64.urlsafe_b64encode(b"changeme" * 4).decode(), "is text .*not random bytes"),
        ("k1:" + base64.urlsafe_b64encode(bytes(range(32))).decode(), "count up or down"),
        ("k1:" + base64.urlsafe_b64encode(bytes([1, 2, 3, 4]) * 8).decode(), "repeats a few"),
    ],
)
def test_production_refuses_data_keys_that_are_not_random(tmp_path, entry, why):
    with pytest.raises(ValidationError, match=why) as err:
        make_settings(
            tmp_path,
            environment="production",
            secret_key=STRONG_KEY,
            **(APP | {"data_keys": entry}),
        )
    message = settings_error(err.value)
    assert "MYREVIEW_DATA_KEYS" in message and "myreview keys new" in message
    assert entry.split(":")[1] not in message


def test_keys_made_as_the_readme_says_are_always_accepted(tmp_path):
    import secrets

    for _ in range(300):
        for key in (
            secrets.token_urlsafe(48),
            secrets.token_urlsafe(24),  # 32 characters, the shortest allowed
            secrets.token_hex(32),
            base64.b64encode(secrets.token_bytes(32)).decode(),
        ):
            entry = new_key_entry("k1")
            make_settings(
                tmp_path, environment="production", secret_key=key, **(APP | {"data_keys": entry})
            )


@pytest.mark.parametrize("password", ["", "changethis", "CHANGE ME", "password", "short"])
def test_production_refuses_a_placeholder_app_password(tmp_path, password):
    with pytest.raises(ValidationError, match="MICROSOFT_APP"):
        make_settings(
            tmp_path,
            environment="production",
            secret_key=STRONG_KEY,
            microsoft_app_id="app",
            microsoft_app_password=password,
        )


@pytest.mark.parametrize(
    ("keys", "why"),
    [
        ("", "MYREVIEW_DATA_KEYS is required in production"),
        ("k1", "entry 1 is not `id:key`"),
        (DATA_KEYS + ",k2:c2hvcnQ", r"entry 2 \(id k2\) is not 32 bytes"),
        (DATA_KEYS + "," + DATA_KEYS, "entry 2 repeats the key id k1"),
    ],
    # The keys are random per run: ids from the reason keep the test names stable.
    ids=["missing", "no-colon", "short-key", "repeated-id"],
)
def test_production_refuses_missing_or_broken_data_keys_without_showing_one(tmp_path, keys, why):
    with pytest.raises(ValidationError, match=why) as err:
        make_settings(
            tmp_path, environment="production", secret_key=STRONG_KEY, **(APP | {"data_keys": keys})
        )
    # What is printed at a refused start (bot/cli.py) names the setting, never a key.
    assert "MYREVIEW_DATA_KEYS" in settings_error(err.value)
    assert DATA_KEYS.split(":")[1] not in settings_error(err.value)


def test_production_accepts_strong_secrets(tmp_path):
    ok = make_settings(tmp_path, environment="production", secret_key=STRONG_KEY, **APP)
    assert ok.environment == "production"
    # Development keeps working with the shipped placeholder.
    assert make_settings(tmp_path, environment="development", secret_key="changeme")


def test_a_refused_start_names_the_setting_but_never_shows_a_secret(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MYREVIEW_ENVIRONMENT", "production")
    monkeypatch.setenv("MYREVIEW_SECRET_KEY", STRONG_KEY)
    monkeypatch.setenv("MYREVIEW_MICROSOFT_APP_ID", "app")
    monkeypatch.setenv("MYREVIEW_MICROSOFT_APP_PASSWORD", APP["microsoft_app_password"])
    monkeypatch.setenv("MYREVIEW_DATA_KEYS", DATA_KEYS)
    monkeypatch.setenv("MYREVIEW_SMTP_USERNAME", "bot@council.example")
    monkeypatch.setenv("MYREVIEW_SMTP_PASSWORD", "changeme ")
    with pytest.raises(SystemExit) as err:
        cli.main(["migrate"])
    message = str(err.value)
    assert "MYREVIEW_SMTP_PASSWORD" in message
    for secret in (STRONG_KEY, APP["microsoft_app_password"], "changeme ", DATA_KEYS):
        assert secret not in message
    monkeypatch.setenv("MYREVIEW_SECRET_KEY", "hunter2")
    with pytest.raises(SystemExit) as err:
        cli.main(["migrate"])
    assert "MYREVIEW_SECRET_KEY is shorter" in str(err.value) or "placeholder" in str(err.value)
    assert "hunter2" not in str(err.value)


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
    from storage.crypto import Keyring
    from storage.db import Database

    broken = Database("sqlite+aiosqlite:////nonexistent/dir/x.db", keys=Keyring.ephemeral())
    parts.db.__dict__["engine"] = broken.engine
    resp = await client.get("/healthz")
    assert resp.status == 503


async def test_responses_carry_no_server_version_and_safe_headers(client):
    for resp in (
        await client.get("/healthz"),
        await client.post("/api/messages", data=b"{not json"),
        await client.get("/nothing-here"),
    ):
        assert resp.headers["Server"] == "MyReview", resp.status
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in resp.headers["Content-Security-Policy"]


async def test_the_database_and_emails_are_owner_only(settings, new_chat, new_review):
    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    _, code = await new_review()
    chat = new_chat()
    await chat.start()
    await chat.say(code)
    await chat.say("he hits me every night")  # an alert, so an email
    [eml] = await wait_for_eml(settings.outbox_dir)
    db = Path(settings.database_url.split(":///", 1)[1])
    wal, shm = (db.with_name(db.name + suffix) for suffix in ("-wal", "-shm"))
    assert wal.exists() and shm.exists()
    for path in (db, wal, shm, eml):
        assert mode(path) == 0o600, path
    assert mode(settings.var_dir) == 0o700 and mode(settings.outbox_dir) == 0o700


def test_production_refuses_a_var_folder_others_can_read(tmp_path):
    from bot.app import secure_var_dir
    from bot.settings import UnsafeSetup

    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    with pytest.raises(UnsafeSetup, match="chmod 700"):
        secure_var_dir(
            make_settings(tmp_path, environment="production", secret_key=STRONG_KEY, **APP)
        )
    secure_var_dir(make_settings(tmp_path))
    assert (var.stat().st_mode & 0o777) == 0o700


async def run_demo(folder: Path) -> str:
    """`make demo` runs `myreview demo`: the real command, as a subprocess, in `folder`, until
    it listens; what it printed by then."""
    import asyncio
    import os
    import socket
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "MYREVIEW_PORT": str(port),
        "MYREVIEW_VAR_DIR": str(folder / "var"),
        "MYREVIEW_DATABASE_URL": f"sqlite+aiosqlite:///{folder / 'var' / 'myreview.db'}",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "demo",
        cwd=folder,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out = b""
    try:
        assert proc.stdout is not None
        while b"listening" not in out:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line, out.decode()
            out += line
    finally:
        proc.kill()
        await proc.wait()
    return out.decode()


async def test_make_demo_leaves_only_owner_only_files(tmp_path):
    await run_demo(tmp_path)
    var = tmp_path / "var"
    for path in (var, *var.rglob("*")):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))
    assert (var / "myreview.db").exists()


def test_purge_without_a_terminal_asks_for_yes_and_deletes_nothing(tmp_path):
    """Run from a script or a pipe, there is no one to type "yes": it says to use --yes."""
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "MYREVIEW_VAR_DIR": str(tmp_path / "var"),
        "MYREVIEW_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'var' / 'myreview.db'}",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "review", "purge", "--review-id", "1"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "--yes" in done.stderr and "Nothing deleted" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


async def test_make_demo_twice_keeps_its_demo_review_with_a_new_code(tmp_path):
    import re

    first, second = await run_demo(tmp_path), await run_demo(tmp_path)
    made = re.search(r"Demo review (\d+) for Sam \(IRO Jo Demo\) created\.", first)
    kept = re.search(r"Demo review (\d+) for Sam \(IRO Jo Demo\) kept", second)
    assert made and kept and made.group(1) == kept.group(1), (first, second)
    codes = [re.findall(r"Invite code: (\S+)", out) for out in (first, second)]
    assert len(codes[0]) == len(codes[1]) == 1 and codes[0] != codes[1]
    # The first thing it says: the link a young person opens, with the code in the fragment.
    link = re.fullmatch(
        r"Open http://localhost:\d+/chat#(\S+) to chat as a young person\.", second.splitlines()[0]
    )
    assert link and link.group(1) == codes[1][0], second
    # And a sign-in link for the demo IRO (staff workspace): a new one-time link each run.
    staff = [
        re.findall(
            r"Open (http://localhost:\d+/staff/set-up\?token=\S+) to sign in as the IRO", out
        )
        for out in (first, second)
    ]
    assert len(staff[0]) == len(staff[1]) == 1 and staff[0] != staff[1], (first, second)
