"""Wording added or changed in English, and the languages that have not caught up: listed by
`myreview content check`, logged at start-up, shown to the child in English with a note in
their language, or refused at start-up where the council says so."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot.app import create_app
from storage.content import ContentError, load_content
from tests.conftest import make_settings
from tests.consult import text

ROOT = Path(__file__).resolve().parent.parent


def copy_content(tmp_path: Path, name: str) -> Path:
    copy = tmp_path / name
    shutil.copytree(ROOT / "content", copy)
    return copy


def drop_line(path: Path, starting: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    assert any(ln.startswith(starting) for ln in lines), starting
    path.write_text("\n".join(ln for ln in lines if not ln.startswith(starting)) + "\n")


@pytest.fixture
def content_copy(tmp_path: Path) -> Path:
    """Content whose Arabic has no safety rule yet (added in English, say, last week)."""
    copy = copy_content(tmp_path, "content")
    drop_line(copy / "locales" / "ar.yaml", "  welcome_rules:")
    return copy


@pytest.fixture
def settings(tmp_path: Path, content_copy: Path):
    return make_settings(tmp_path, content_dir=content_copy)


def edit(path: Path, old: str, new: str) -> None:
    source = path.read_text(encoding="utf-8")
    assert old in source, old
    path.write_text(source.replace(old, new, 1), encoding="utf-8")


def myreview(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args], capture_output=True, text=True, cwd=ROOT
    )


def test_check_lists_missing_and_stale_wording_until_marked_translated(tmp_path: Path):
    content_copy = copy_content(tmp_path, "checked")
    ok = myreview("content", "check", "--content-dir", str(content_copy))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Arabic (ar): up to date." in ok.stdout
    # The English of a prompt changes; Albanian loses a message.
    edit(
        content_copy / "locales" / "en.yaml",
        'prompt: "Where should your meeting be?"',
        'prompt: "Where would you like your meeting to be?"',
    )
    drop_line(content_copy / "locales" / "sq.yaml", "  burst_added:")

    found = myreview("content", "check", "--content-dir", str(content_copy))
    assert found.returncode == 1
    assert "English changed: questions.where.prompt" in found.stdout
    assert "missing: messages.burst_added" in found.stdout
    assert "Arabic (ar): 0 missing, 1 older than the English." in found.stdout

    marked = myreview("content", "translated", "--locale", "ar", "--content-dir", str(content_copy))
    assert marked.returncode == 0
    again = myreview("content", "check", "--content-dir", str(content_copy))
    assert "Arabic (ar): up to date." in again.stdout
    assert "Albanian (sq): 1 missing, 1 older than the English." in again.stdout


async def test_untranslated_wording_is_english_with_a_note_in_their_language(new_chat, parts):
    chat = new_chat("msteams")
    await chat.start()
    await chat.say("language")
    reply = await chat.say("العربية")
    # The rule in English (the Arabic is not written yet), and in Arabic that it is English.
    assert text(parts, "messages.welcome_rules", "en", "easy") in reply
    assert reply.count(text(parts, "messages.not_translated_yet", "ar")) == 1
    assert text(parts, "messages.welcome", "ar", "easy") in reply  # Arabic keeps no note


def test_a_council_that_allows_no_english_is_told_what_to_translate(
    tmp_path: Path, content_copy: Path
):
    settings = make_settings(tmp_path, content_dir=content_copy, english_where_untranslated=False)
    with pytest.raises(ContentError) as raised:
        create_app(settings)
    assert "ar.yaml: no wording yet for messages.welcome_rules" in str(raised.value)


@pytest.mark.parametrize("missing", ["phrases", "examples"])
def test_a_chat_language_without_its_safeguarding_words_stops_the_start(tmp_path, missing):
    copy = copy_content(tmp_path, "no-albanian-screen")
    if missing == "phrases":
        (copy / "safeguarding" / "sq.yaml").unlink()
    else:
        for path in (copy / "safeguarding" / "examples").glob("sq-*.tsv"):
            path.unlink()
    with pytest.raises(ContentError) as raised:
        load_content(copy)
    assert "sq.yaml: the chat can be in Albanian" in str(raised.value)
    assert ("sq.yaml is missing" if missing == "phrases" else "no sq-*.tsv") in str(raised.value)
