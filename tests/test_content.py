"""Content loads and is validated; an error names the file, the line and the fix."""

import re
import shutil
from pathlib import Path

import pytest

from dialogs.messages import MESSAGE_IDS
from storage.content import ContentError, load_content

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_content_is_valid_and_complete():
    content = load_content(ROOT / "content", required_messages=MESSAGE_IDS)
    assert {"en", "ar", "sq"} <= set(content.locales)
    assert set(content.safeguarding) == {"en", "ar", "sq"}
    assert content.question("take_part").essential


def test_every_message_the_code_says_is_listed():
    used: set[str] = set()
    for path in (ROOT / "dialogs").glob("*.py"):
        source = path.read_text()
        for call in re.findall(r"(?:say|msg)\(([^)]*)\)", source):
            used.update(re.findall(r'"([a-z_]+)"', call))
        used.update(f"media_{m}" for m in ("picture", "voice", "file"))
        used.update(f"answer_{m}" for m in ("picture", "voice", "file", "skipped"))
    used -= {"not_understood_multi", "not_understood_yesno"} - set(MESSAGE_IDS)
    assert used - set(MESSAGE_IDS) == set()


@pytest.fixture
def copy(tmp_path):
    target = tmp_path / "content"
    shutil.copytree(ROOT / "content", target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_unknown_question_type_names_file_and_line(copy):
    path = copy / "consultation.yaml"
    edit(path, "  - id: talk_to_iro\n    type: yesno", "  - id: talk_to_iro\n    type: yesorno")
    with pytest.raises(ContentError) as err:
        load_content(copy)
    msg = str(err.value)
    assert "consultation.yaml" in msg and f"line {line_of(path, 'yesorno')}" in msg
    assert "'single', 'multi', 'yesno', 'text' or 'language'" in msg


def test_condition_on_a_missing_option_says_which(copy):
    path = copy / "consultation.yaml"
    edit(path, "any_of: [not_come_someone_speaks]", "any_of: [not_coming]")
    with pytest.raises(
        ContentError, match=r"line \d+: 'take_part' has no options \['not_coming'\]"
    ):
        load_content(copy)


def test_missing_english_string_is_an_error_with_the_fix(copy):
    path = copy / "locales" / "en.yaml"
    edit(path, '  proud:\n    prompt: "What is something you are proud of? 🌟"\n', "  proud:\n")
    with pytest.raises(ContentError, match=r"'questions.proud.prompt' is missing. Add it"):
        load_content(copy)


def test_misspelt_translation_key_names_the_line(copy):
    path = copy / "locales" / "sq.yaml"
    edit(path, "  welcome_back:", "  welcom_back:")
    with pytest.raises(ContentError) as err:
        load_content(copy)
    assert "sq.yaml, line " + str(line_of(path, "welcom_back:")) in str(err.value)
    assert "not in en.yaml" in str(err.value)


def test_translated_placeholder_must_match_english(copy):
    path = copy / "locales" / "sq.yaml"
    edit(path, "{iro}", "{IRO}")
    with pytest.raises(ContentError, match=r"Keep the \{placeholders\} exactly as in en.yaml"):
        load_content(copy)


def test_broken_yaml_names_the_line_and_suggests_quotes(copy):
    path = copy / "locales" / "en.yaml"
    edit(path, 'skipped: "No problem."', "skipped: No: problem.")
    with pytest.raises(
        ContentError, match=r"en.yaml, line \d+: the YAML cannot be read.*double quotes"
    ):
        load_content(copy)


def test_unknown_safeguarding_category_is_refused(copy):
    path = copy / "safeguarding" / "en.yaml"
    edit(path, "  self_harm:", "  selfharm:")
    with pytest.raises(ContentError, match="unknown categories"):
        load_content(copy)
